from django.apps import AppConfig


class CrmStoreConfig(AppConfig):
    name = "crm_store"
    default_auto_field = "django.db.models.BigAutoField"
