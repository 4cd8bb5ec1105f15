"""Who may see and do what (L5, P4, W8): pure predicates and write checks, no I/O."""

from crm_procedures.access.permissions import (
    PERMISSION_DESCRIPTIONS,
    may_correct_prospect,
    may_import_suspects,
    may_read_reports,
    may_write_activity,
    may_write_project,
    may_write_prospect,
    may_write_visit_report,
    require,
    require_activity_write,
    require_project_write,
    require_prospect_write,
)
from crm_procedures.access.viewer import (
    PERMISSIONS,
    ActivityScope,
    Viewer,
    may_see_activity,
    may_see_project,
    may_see_prospect,
    viewer_for,
)

__all__ = [
    "PERMISSIONS",
    "PERMISSION_DESCRIPTIONS",
    "ActivityScope",
    "Viewer",
    "may_correct_prospect",
    "may_import_suspects",
    "may_read_reports",
    "may_see_activity",
    "may_see_project",
    "may_see_prospect",
    "may_write_activity",
    "may_write_project",
    "may_write_prospect",
    "may_write_visit_report",
    "require",
    "require_activity_write",
    "require_project_write",
    "require_prospect_write",
    "viewer_for",
]
