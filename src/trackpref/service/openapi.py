"""The OpenAPI 3.1 document of the service's API, written as data.

Written by hand rather than generated, so that it says what the endpoints
promise (202 only once durable, 503 with Retry-After, errors naming the
field) and not merely what their signatures are. A test checks it against
the OpenAPI schema (``openapi-spec-validator``) and that every API route of
the app appears in it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["API_PATHS", "openapi_document"]

_ERROR = {
    "type": "object",
    "required": ["error", "field"],
    "properties": {
        "error": {"type": "string", "description": "What was wrong, for a person."},
        "field": {
            "type": ["string", "null"],
            "description": "The field at fault, e.g. events[2].url, or null.",
        },
    },
}


def _error(description: str, retry: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if retry:
        out["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before sending the same request again.",
                "schema": {"type": "integer"},
            }
        }
    return out


_TK = {
    "Tk": {
        "description": "The tracking status of this response (W3C TPE), on every response.",
        "schema": {"type": "string"},
    }
}
_GIF = {
    "description": "A 1x1 transparent GIF, sent once the open or view is committed.",
    "headers": _TK,
    "content": {"image/gif": {"schema": {"type": "string", "format": "binary"}}},
}
_SIGNALS = {
    "type": "object",
    "description": "Counts of page views by the signal the browser sent, and shares.",
}

_EVENT = {
    "type": "object",
    "required": ["site", "type", "url"],
    "additionalProperties": False,
    "properties": {
        "site": {"type": "string", "description": "The site's host name.", "maxLength": 253},
        "type": {
            "type": "string",
            "pattern": "^[a-z0-9][a-z0-9_.:-]{0,63}$",
            "description": "pageview, or a custom event name.",
        },
        "url": {
            "type": "string",
            "maxLength": 2048,
            "description": "The page (absolute http(s) URL or path); only the path is kept.",
        },
        "referrer": {
            "type": ["string", "null"],
            "maxLength": 2048,
            "description": "The referring page; only its registrable domain is kept.",
        },
        "props": {
            "type": ["object", "null"],
            "maxProperties": 20,
            "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
        },
        "id": {
            "type": "string",
            "pattern": "^[A-Za-z0-9_-]{16,64}$",
            "description": "The browser's pseudonymous id; kept only when the person allows it.",
        },
        "dnt": {
            "type": ["string", "null"],
            "description": "navigator.doNotTrack; only ever makes the preference stricter.",
        },
        "gpc": {
            "type": ["boolean", "null"],
            "description": "navigator.globalPrivacyControl; only ever makes it stricter.",
        },
    },
}

_BEARER: list[dict[str, list[str]]] = [{"adminToken": []}, {"adminSession": []}]

#: Every API route the app serves (method lists), kept in step with app.py by a test.
API_PATHS: dict[str, tuple[str, ...]] = {
    "/api/collect": ("post", "options"),
    "/api/preference": ("get",),
    "/api/explain": ("get",),
    "/api/stats": ("get",),
    "/p.gif": ("get",),
    "/o/{campaign}/{token}.gif": ("get",),
    "/trackpref.js": ("get",),
    "/metrics": ("get",),
    "/openapi.json": ("get",),
    "/healthz": ("get",),
}


def openapi_document(*, server: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "trackpref collection service",
            "version": "1",
            "description": (
                "Measurement that honors Do Not Track and Global Privacy Control. What is kept "
                "per event follows the ledger's gate: allow keeps a pseudonymous id, unset only "
                "a daily salted visitor hash, do-not-track only a count."
            ),
        },
        "paths": {
            "/api/collect": {
                "post": {
                    "summary": "Collect one event or an array of events",
                    "description": (
                        "Answers 202 only once every event of the request is committed (group "
                        "commit, at most about 20 ms). Send JSON as application/json or as "
                        "text/plain (what navigator.sendBeacon can send without a preflight)."
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/Event"},
                                        {
                                            "type": "array",
                                            "minItems": 1,
                                            "maxItems": 500,
                                            "items": {"$ref": "#/components/schemas/Event"},
                                        },
                                    ]
                                }
                            },
                            "text/plain": {"schema": {"type": "string"}},
                        },
                    },
                    "responses": {
                        "202": {
                            "description": (
                                "Every event of the request is durable. No body: a request "
                                "is stored whole or not at all."
                            ),
                            "headers": _TK,
                        },
                        "400": _error("Malformed; the field is named, nothing was stored."),
                        "413": _error("The body or the array is too large."),
                        "415": _error("Not JSON."),
                        "503": _error("The write queue is full; retry later.", retry=True),
                    },
                },
                "options": {
                    "summary": "CORS preflight",
                    "responses": {"204": {"description": "POST is allowed from any origin."}},
                },
            },
            "/api/preference": {
                "get": {
                    "summary": "What the server understood from this request's signals",
                    "responses": {
                        "200": {
                            "description": "The resolved preference.",
                            "headers": _TK,
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": [
                                            "preference",
                                            "dnt",
                                            "gpc",
                                            "exception",
                                            "tracking_status",
                                        ],
                                        "properties": {
                                            "preference": {
                                                "enum": ["unset", "do-not-track", "allow"]
                                            },
                                            "dnt": {"type": ["string", "null"]},
                                            "gpc": {"type": "boolean"},
                                            "exception": {"type": "boolean"},
                                            "tracking_status": {"type": "string"},
                                        },
                                    }
                                }
                            },
                        }
                    },
                }
            },
            "/api/explain": {
                "get": {
                    "summary": "What the service would keep of an event sent with this request",
                    "parameters": [
                        {
                            "name": "dataset",
                            "in": "query",
                            "schema": {"enum": ["pageviews", "email_opens"]},
                        },
                        {"name": "dnt", "in": "query", "schema": {"enum": ["0", "1"]}},
                        {"name": "gpc", "in": "query", "schema": {"enum": ["true", "false"]}},
                    ],
                    "responses": {
                        "200": {
                            "description": "The gate's explanation: which rule, which signal.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        "400": _error("Unknown dataset."),
                    },
                }
            },
            "/api/stats": {
                "get": {
                    "summary": "The dashboard's data for one site",
                    "security": _BEARER,
                    "parameters": [
                        {"name": "site", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "days",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 400},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "Aggregates, no identifiers; without site: the sites.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "site": {"type": "string"},
                                            "pageviews": {"type": "object"},
                                            "signals": _SIGNALS,
                                            "campaigns": {"type": "array"},
                                            "retention": {"type": "object"},
                                            "rights": {"type": "object"},
                                            "sites": {
                                                "type": "array",
                                                "items": {"type": "string"},
                                            },
                                        },
                                    }
                                }
                            },
                        },
                        "400": _error("A bad parameter."),
                        "401": _error("The admin token is missing or wrong."),
                        "404": _error("No data for that site."),
                    },
                }
            },
            "/p.gif": {
                "get": {
                    "summary": "A page view without JavaScript",
                    "parameters": [
                        {
                            "name": "site",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {"name": "url", "in": "query", "schema": {"type": "string"}},
                        {"name": "ref", "in": "query", "schema": {"type": "string"}},
                        {"name": "type", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": _GIF,
                        "400": _error("A bad parameter."),
                        "503": _error("Overloaded; retry later.", retry=True),
                    },
                }
            },
            "/o/{campaign}/{token}.gif": {
                "get": {
                    "summary": "An e-mail open",
                    "description": (
                        "Under do-not-track (DNT: 1, which Thunderbird sends when it loads "
                        "remote images) only the campaign's count is kept, no per-recipient record."
                    ),
                    "parameters": [
                        {
                            "name": "campaign",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]{0,63}$"},
                        },
                        {
                            "name": "token",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,128}$"},
                        },
                        {"name": "s", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": _GIF,
                        "400": _error("A bad campaign or token."),
                        "503": _error("Overloaded; retry later.", retry=True),
                    },
                }
            },
            "/trackpref.js": {
                "get": {
                    "summary": "The measurement script",
                    "responses": {
                        "200": {
                            "description": "JavaScript, no dependencies.",
                            "content": {"text/javascript": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (no personal data)",
                    "security": _BEARER,
                    "responses": {
                        "200": {
                            "description": "The text exposition format.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "401": _error("The admin token is missing or wrong."),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.1",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness and the writer's queue",
                    "responses": {
                        "200": {
                            "description": "Alive.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": {"Event": _EVENT, "Error": _ERROR},
            "securitySchemes": {
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "TRACKPREF_ADMIN_TOKEN, or the token printed at first start.",
                },
                "adminSession": {"type": "apiKey", "in": "cookie", "name": "tp_admin"},
            },
        },
    }
    if server:
        doc["servers"] = [{"url": server}]
    return doc
