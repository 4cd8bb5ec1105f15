"""Writing and reading the formats mail and calendars speak: MIME messages and iCalendar.

Pure formatting below the services: :mod:`crm_procedures.formats.mime` builds
e-mail messages (safe headers, random multipart boundaries, stored envelopes)
and :mod:`crm_procedures.formats.ical` writes invitations (REQUEST, update,
CANCEL) with VTIMEZONE definitions taken from ``zoneinfo``. Neither talks to
the world: the adapters in :mod:`crm_procedures.adapters` deliver what they
write (SMTP, folders, CalDAV), and the services call them to build the
messages they record in the outbox.
"""
