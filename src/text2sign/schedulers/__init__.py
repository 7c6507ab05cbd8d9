"""Samplers for flow and diffusion models: they see velocity functions, never networks."""
