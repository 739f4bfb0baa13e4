# This folder's hub has a Xero sandbox behind it (the SDK's Xero calls need an organisation).
from tests.fixtures.xero_hub import (  # noqa: F401 (fixtures)
    app,
    settings,
    xero_browser,
    xero_sandbox,
    xero_sandbox_db_url,
)
