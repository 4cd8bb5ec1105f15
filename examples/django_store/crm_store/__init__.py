"""A crm_procedures store on the Django ORM: the records live in this app's own tables."""
