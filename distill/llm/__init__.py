"""Talking to teacher LLMs through any OpenAI-compatible endpoint."""
