"""Calibrating a proxy: how well a cheap training budget ranks models as a long one does, how much
of its spread is measurement noise, and how much compute it needs to decide an effect."""
