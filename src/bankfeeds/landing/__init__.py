"""The hub's own pages: ``/`` (in demo mode, where to start) and ``/docs`` (Swagger UI, served offline)."""
