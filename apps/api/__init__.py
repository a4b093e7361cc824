"""The HTTP service: recommendations, similar products, segments, the forecast and events."""
