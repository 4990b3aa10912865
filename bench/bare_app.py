"""The baseline: a bare Flask app that reads the body and answers a constant 200."""

from __future__ import annotations

from flask import Flask, jsonify, request


def create_app() -> Flask:
    """Flask with one POST route, served by the same gunicorn settings as the receiver."""
    app = Flask(__name__)

    @app.post("/callbacks/huawei-live")
    def receive() -> object:
        request.get_data()
        return jsonify(status=0, message="accepted")

    return app
