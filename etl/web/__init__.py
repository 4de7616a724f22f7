"""The screens for the people who act on the register (`ltcreg serve`): worklists, the review queue, the
person card, the dashboards. app.create_app is the face; auth (log-in, sessions, CSRF, audit) and data
(what a screen reads, as the user's role) sit behind it."""
from etl.web.app import create_app, serve

__all__ = ["create_app", "serve"]
