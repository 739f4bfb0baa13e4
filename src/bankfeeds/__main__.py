"""`python -m bankfeeds`: the same as the `bankfeeds` command."""

from bankfeeds.cli.main import app

app(prog_name="bankfeeds")
