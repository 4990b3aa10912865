"""Verified, replay-proof, durable receiver for Huawei Cloud Live recording callbacks."""

__version__ = "0.1.0"
