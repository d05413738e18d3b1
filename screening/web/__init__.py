"""The village queue's web server: pages, the JSON API and the middleware between them."""

from screening.web.app import ROUTES, create_app, today_note

__all__ = ["ROUTES", "create_app", "today_note"]
