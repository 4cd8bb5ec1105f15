"""What comes back: reading answers to what the library sent (I1).

Pure functions and values, no I/O: :mod:`~crm_procedures.inbound.classify`
turns the raw bytes of one received message into a typed
:data:`~crm_procedures.inbound.classify.Classification` (calendar answer,
bounce, automatic reply, reply, or unmatched with its reason);
:mod:`~crm_procedures.inbound.unsubscribe` signs and verifies one-click
unsubscribe tokens (RFC 8058); :mod:`~crm_procedures.inbound.cursor` holds the
resumable position of an :class:`~crm_procedures.ports.Inbox`.
"""
