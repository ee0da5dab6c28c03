"""Baseline (d): a bare FastAPI route that answers 202 without work."""

from fastapi import FastAPI, Response

app = FastAPI()


@app.post("/v1/events", status_code=202)
async def accept() -> Response:
    return Response(status_code=202)
