"""Adapters: implementations of the ports (memory, SQL, SMTP, files, iCalendar)."""
