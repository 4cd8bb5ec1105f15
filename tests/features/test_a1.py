"""A1 (issue 21): uniform address blocks on outgoing correspondence. A template writes
``{{relation.address}}``: the relation's first address laid out for its country, with the
country named when it is not the installation's. Through a send-e-mail step, on every store."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage
from typing import Any

import attrs
import pytest

from crm_procedures import (
    DefinitionError,
    dump_definitions,
    load_definitions,
    standard_definitions,
)
from crm_procedures.model.relation import Address
from crm_procedures.services import campaigns
from integration.campaign import MEMBERS, Campaign

LETTER = "{{relation.name}}\nt.a.v. {{contact.full_name}}\n{{relation.address}}\n\nDear reader,"


def with_letter(**template: str) -> dict[str, Any]:
    """The standard definitions as data, the info template's text replaced by ``LETTER``."""
    data = dump_definitions(standard_definitions())
    data["templates"]["info"].update({"text": LETTER, "html": None, **template})
    data["templates"]["info"] = {k: v for k, v in data["templates"]["info"].items() if v}
    return data


def sent_text(c: Campaign, address: Address, country: str) -> str:
    """The text of the e-mail a send-information step sends to acme at ``address``."""
    with c.store.unit_of_work() as uow:
        acme = uow.relations.get("acme")
        uow.relations.save(attrs.evolve(acme, addresses=(address,)))
        uow.commit()
    ctx = attrs.evolve(c.ctx, definitions=load_definitions(with_letter()), country=country)
    project = campaigns.start_campaign(
        ctx, "pia", relation_id="client", name="Letters", procedure="standard", members=MEMBERS
    )
    (p,) = campaigns.add_prospects(ctx, "pia", project.id, [("acme", "c-acme")])
    campaigns.release(ctx, "pia", project.id)
    campaigns.perform_step(ctx, "ann", p.id, "call", role="marketeer")
    (key,) = campaigns.perform_step(ctx, "ann", p.id, "send_info", role="marketeer").message_keys
    with c.store.unit_of_work(read_only=True) as uow:
        (message,) = [m for m in uow.outbox.list() if m.key == key]
    mail = email.message_from_string(message.payload["message"], policy=policy.default)
    assert isinstance(mail, EmailMessage)
    body = mail.get_body(("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def test_a1_a_letter_in_the_country_has_the_national_address_block(campaign: Campaign) -> None:
    text = sent_text(campaign, Address("Lange Voorhout 9", "2514ea", "Den Haag"), "NL")
    assert text.startswith(
        "Acme Installatietechniek B.V.\nt.a.v. Jan de Vries\n"
        "Lange Voorhout 9\n2514 EA  DEN HAAG\n\nDear reader,"
    )


def test_a1_a_letter_abroad_names_the_country(campaign: Campaign) -> None:
    text = sent_text(campaign, Address("ul. Długa 5", "00950", "Warszawa", country="PL"), "NL")
    assert "ul. Długa 5\n00-950 Warszawa\nPOLAND\n" in text
    # Posted in Poland, the same address needs no country line.
    c = campaign
    polish = sent_text(c, Address("ul. Długa 5", "00950", "Warszawa", country="PL"), "PL")
    assert "00-950 Warszawa\n\nDear reader," in polish


def test_a1_an_address_block_cannot_go_in_a_subject() -> None:
    with pytest.raises(DefinitionError, match=r"relation\.address\}\} has several lines"):
        load_definitions(with_letter(subject="Letter to {{relation.address}}"))


@pytest.mark.parametrize("country", ["Netherlands", "nl", "", "N1", 31])
def test_a1_an_installation_country_that_is_no_code_is_refused(country: Any) -> None:
    from crm_procedures import CrmApp, InvalidInput, MemoryStore
    from crm_procedures.testing.clock import FrozenClock
    from integration.campaign import START

    with pytest.raises(InvalidInput, match="country"):
        CrmApp(MemoryStore(), FrozenClock(START), country=country)
    assert CrmApp(MemoryStore(), FrozenClock(START), country="BE").ctx.country == "BE"
