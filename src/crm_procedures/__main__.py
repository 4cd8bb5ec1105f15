"""``python -m crm_procedures``: the command line."""

from crm_procedures.cli import main

raise SystemExit(main())
