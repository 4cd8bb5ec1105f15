"""The Django store keeps every contract the library's own stores keep."""

from crm_procedures.testing.contracts import StoreContract


class TestDjangoStore(StoreContract):
    pass
