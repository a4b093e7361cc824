"""Model code (forecast, segments, recommender): plain Python, free of Dagster.

Filled in by the ML issue; ``orchestration`` may import it, never the other way round.
"""
