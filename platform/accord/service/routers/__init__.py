"""One router per resource; ``accord.service.app.create_app`` mounts them under ``/api``."""
