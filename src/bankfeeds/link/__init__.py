"""The hosted link pages the SMB user sees: templates, static files and translations (en, fr)."""
