"""One APIRouter per resource; ``create_app`` includes them in the order their operations appear in /docs."""
