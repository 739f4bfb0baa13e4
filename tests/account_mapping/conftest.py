from tests.fixtures.xero_hub import (  # noqa: F401 (fixtures)
    app,
    settings,
    xero_browser,
    xero_sandbox,
    xero_sandbox_db_url,
)
