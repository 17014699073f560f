"""flagstream: real-time notifications over SSE."""
