//! Hand-written OpenAPI 3 document for the routes in `handlers::router`.

use serde_json::{json, Value};

fn err_responses(codes: &[&str]) -> Value {
    let mut m = serde_json::Map::new();
    for c in codes {
        m.insert(
            (*c).to_string(),
            json!({ "description": "error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }),
        );
    }
    Value::Object(m)
}

fn op(summary: &str, ok: Value, errors: &[&str], extra: Value) -> Value {
    let mut responses = err_responses(errors);
    if let (Value::Object(r), Value::Object(o)) = (&mut responses, ok) {
        r.extend(o);
    }
    let mut v = json!({ "summary": summary, "responses": responses });
    if let (Value::Object(v), Value::Object(e)) = (&mut v, extra) {
        v.extend(e);
    }
    v
}

fn json_ok(schema: Value) -> Value {
    json!({ "200": { "description": "ok", "content": { "application/json": { "schema": schema } } } })
}

fn id_param() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "integer", "minimum": 1 } })
}

fn evidence(summary: &str, mime: &str) -> Value {
    op(
        summary,
        json!({
            "200": { "description": "whole file", "content": { mime: { "schema": { "type": "string", "format": "binary" } } } },
            "206": { "description": "one byte range (Content-Range)", "content": { mime: { "schema": { "type": "string", "format": "binary" } } } }
        }),
        &["400", "401", "403", "404", "410", "416"],
        json!({ "parameters": [id_param(), { "name": "Range", "in": "header", "required": false, "schema": { "type": "string", "example": "bytes=0-1023" } }, { "name": "access_token", "in": "query", "required": false, "schema": { "type": "string" }, "description": "bearer token for clients that cannot set headers (<video>, <img>); same role checks and audit" }] }),
    )
}

fn state_change(summary: &str, body: Value) -> Value {
    op(
        summary,
        json_ok(json!({ "$ref": "#/components/schemas/Event" })),
        &["400", "401", "403", "404", "413", "415"],
        json!({ "parameters": [id_param()], "requestBody": { "required": false, "content": { "application/json": { "schema": body } } } }),
    )
}

/// The document served at `/api/v1/openapi.json`. Paths are relative to the server URL
/// `/api/v1`.
pub fn openapi_document() -> Value {
    let std_err = ["401", "403"];
    let q = |name: &str, schema: Value, desc: &str| json!({ "name": name, "in": "query", "required": false, "schema": schema, "description": desc });
    let event_schema = json!({ "type": "object", "properties": {
                    "id": { "type": "integer" }, "seq": { "type": "integer" }, "camera": { "type": "string" },
                    "kind": { "type": "string", "enum": ["falling_object", "ebike_in_elevator"] },
                    "start_s": { "type": "number" }, "end_s": { "type": "number" }, "alarm_s": { "type": "number" },
                    "created_at_ms": { "type": "integer" }, "updated_at_ms": { "type": "integer" }, "confidence": { "type": "number" },
                    "origin": { "type": "object", "nullable": true }, "bbox": { "type": "array", "items": { "type": "number" }, "nullable": true },
                    "label": { "type": "string", "nullable": true }, "trajectory": { "type": "array", "items": { "type": "array", "items": { "type": "number" } }, "nullable": true },
                    "phase": { "type": "string", "enum": ["open", "ended"] }, "state": { "type": "string", "enum": ["new", "acknowledged", "false_alarm"] },
                    "notes": { "type": "array", "items": { "type": "object" } },
                    "evidence": { "type": "array", "items": { "type": "object", "properties": { "kind": { "type": "string" }, "bytes": { "type": "integer" }, "sha256": { "type": "string" }, "gone": { "type": "boolean" } } } }
                } });
    let mut paths = serde_json::Map::new();
    paths.insert("/auth/login".into(), json!({ "post": op("Log in; returns a session bearer token", json_ok(json!({ "type": "object", "properties": { "token": { "type": "string" }, "expires_at_ms": { "type": "integer" }, "user": { "type": "string" }, "role": { "$ref": "#/components/schemas/Role" } } })), &["400", "401", "413", "415"], json!({ "security": [], "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "additionalProperties": false, "required": ["name", "password"], "properties": { "name": { "type": "string" }, "password": { "type": "string" } } } } } } })) }));
    paths.insert("/auth/logout".into(), json!({ "post": op("Revoke the calling token", json!({ "204": { "description": "revoked" } }), &["401"], json!({})) }));
    paths.insert("/users".into(), json!({ "post": op("Create a user (admin)", json!({ "201": { "description": "created" } }), &["400", "401", "403", "409", "413", "415"], json!({ "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "additionalProperties": false, "required": ["name", "role", "password"], "properties": { "name": { "type": "string" }, "role": { "$ref": "#/components/schemas/Role" }, "password": { "type": "string", "minLength": 8 } } } } } } })) }));
    paths.insert("/cameras".into(), json!({ "get": op("List cameras with live status", json_ok(json!({ "type": "object", "properties": { "cameras": { "type": "array", "items": { "$ref": "#/components/schemas/CameraStatus" } } } })), &std_err, json!({})) }));
    paths.insert("/cameras/{name}/status".into(), json!({ "get": op("One camera's live status", json_ok(json!({ "$ref": "#/components/schemas/CameraStatus" })), &["401", "403", "404"], json!({ "parameters": [{ "name": "name", "in": "path", "required": true, "schema": { "type": "string" } }] })) }));
    paths.insert("/cameras/{name}/health".into(), json!({ "get": op("Online rate and image availability rate over a window", json_ok(json!({ "$ref": "#/components/schemas/HealthWindow" })), &["400", "401", "403", "404"], json!({ "parameters": [{ "name": "name", "in": "path", "required": true, "schema": { "type": "string" } }, q("window_s", json!({ "type": "number", "default": 86400 }), "window length in seconds")] })) }));
    paths.insert("/cameras/{name}/thumbnail.jpg".into(), json!({ "get": op("The camera's latest analysed frame, downscaled (longest side 320 px), refreshed every few seconds; 404 until one exists", json!({ "200": { "description": "JPEG; header x-captured-at-ms", "content": { "image/jpeg": { "schema": { "type": "string", "format": "binary" } } } } }), &["401", "403", "404"], json!({ "parameters": [{ "name": "name", "in": "path", "required": true, "schema": { "type": "string" } }, q("access_token", json!({ "type": "string" }), "token for <img>")] })) }));
    paths.insert("/config".into(), json!({ "get": op("The running configuration's cameras and analytic settings, with the reload generation (admin; no source URLs or credentials)", json_ok(json!({ "type": "object", "properties": { "generation": { "type": "integer" }, "cameras": { "type": "array", "items": { "type": "object" } } } })), &["401", "403", "501"], json!({})) }));
    paths.insert("/config/reload".into(), json!({ "post": op("Re-read the config file (like SIGHUP; admin, audited): zones, masks, thresholds and actions apply without a restart; other changes are listed as needing one. An invalid file is refused (422) and the running configuration is kept", json_ok(json!({ "$ref": "#/components/schemas/ReloadReport" })), &["401", "403", "422", "501"], json!({})) }));
    paths.insert("/events".into(), json!({ "get": op("List events, newest first, keyset pagination", json_ok(json!({ "type": "object", "properties": { "events": { "type": "array", "items": { "$ref": "#/components/schemas/Event" } }, "next_cursor": { "type": "string", "nullable": true } } })), &["400", "401", "403"], json!({ "parameters": [
                q("camera", json!({ "type": "string" }), "camera name"),
                q("kind", json!({ "type": "string", "enum": ["falling_object", "ebike_in_elevator"] }), "event kind"),
                q("state", json!({ "type": "string", "enum": ["new", "acknowledged", "false_alarm"] }), "handling state"),
                q("since", json!({ "type": "number" }), "created at or after (Unix seconds)"),
                q("until", json!({ "type": "number" }), "created before (Unix seconds)"),
                q("cursor", json!({ "type": "string" }), "next_cursor of the previous page"),
                q("limit", json!({ "type": "integer", "minimum": 1, "maximum": 1000, "default": 50 }), "page size")
            ] })) }));
    paths.insert("/events/stream".into(), json!({ "get": op("Server-Sent Events: new, update, end, state (data: {phase, event}); heartbeat comments", json!({ "200": { "description": "event stream", "content": { "text/event-stream": { "schema": { "type": "string" } } } } }), &["400", "401", "403"], json!({ "parameters": [q("camera", json!({ "type": "string" }), "only this camera"), q("kind", json!({ "type": "string" }), "only this kind"), q("access_token", json!({ "type": "string" }), "token for clients that cannot set headers")] })) }));
    paths.insert("/events/{id}".into(), json!({ "get": op("One event with notes and evidence index", json_ok(json!({ "$ref": "#/components/schemas/Event" })), &["400", "401", "403", "404"], json!({ "parameters": [id_param()] })) }));
    paths.insert(
        "/events/{id}/clip.mp4".into(),
        json!({ "get": evidence("Evidence clip (operator+; refusals audited)", "video/mp4") }),
    );
    paths.insert(
        "/events/{id}/snapshot.jpg".into(),
        json!({ "get": evidence("Annotated snapshot (operator+)", "image/jpeg") }),
    );
    paths.insert(
        "/events/{id}/trajectory.png".into(),
        json!({ "get": evidence("Trajectory picture (operator+)", "image/png") }),
    );
    paths.insert("/events/{id}/ack".into(), json!({ "post": state_change("Acknowledge (operator+, audited)", json!({ "type": "object", "additionalProperties": false, "properties": { "note": { "type": "string" } } })) }));
    paths.insert("/events/{id}/false_alarm".into(), json!({ "post": state_change("Mark false alarm (operator+, audited)", json!({ "type": "object", "additionalProperties": false, "properties": { "note": { "type": "string" } } })) }));
    paths.insert("/events/{id}/note".into(), json!({ "post": state_change("Add an operator note (operator+, audited)", json!({ "type": "object", "additionalProperties": false, "required": ["text"], "properties": { "text": { "type": "string", "maxLength": 4000 } } })) }));
    paths.insert("/audit".into(), json!({ "get": op("Audit records (admin)", json_ok(json!({ "type": "object" })), &["400", "401", "403"], json!({ "parameters": [q("after", json!({ "type": "integer" }), "records after this seq"), q("limit", json!({ "type": "integer" }), "at most")] })) }));
    paths.insert("/audit/verify".into(), json!({ "get": op("Verify the SM3 audit chain (admin)", json_ok(json!({ "type": "object" })), &std_err, json!({})) }));
    paths.insert("/healthz".into(), json!({ "get": op("Liveness and readiness", json_ok(json!({ "type": "object" })), &["503"], json!({ "security": [] })) }));
    paths.insert("/metrics".into(), json!({ "get": op("Prometheus text metrics", json!({ "200": { "description": "metrics", "content": { "text/plain": { "schema": { "type": "string" } } } } }), &std_err, json!({})) }));
    paths.insert("/openapi.json".into(), json!({ "get": op("This document", json_ok(json!({ "type": "object" })), &[], json!({ "security": [] })) }));
    json!({
        "openapi": "3.0.3",
        "info": { "title": "vigil node API", "version": env!("CARGO_PKG_VERSION") },
        "servers": [{ "url": "/api/v1" }],
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": { "type": "object", "properties": { "error": { "type": "object", "properties": { "code": { "type": "string" }, "message": { "type": "string" } } } } },
                "Role": { "type": "string", "enum": ["admin", "operator", "viewer"] },
                "CameraStatus": { "type": "object", "properties": { "name": { "type": "string" }, "kind": { "type": "string" }, "online": { "type": "boolean" }, "input_fps": { "type": "number" }, "analysed_fps": { "type": "number" }, "decode_errors": { "type": "integer" }, "reconnects": { "type": "integer" }, "last_frame_age_s": { "type": "number", "nullable": true }, "queue_depth": { "type": "integer" }, "infer_ms": { "type": "number", "nullable": true }, "state": { "type": "string", "enum": ["online", "reconnecting", "offline"] }, "last_error": { "type": "string", "nullable": true }, "thumbnail_url": { "type": "string", "nullable": true }, "thumbnail_at_ms": { "type": "integer", "nullable": true }, "config_generation": { "type": "integer" } } },
                "ReloadReport": { "type": "object", "properties": { "generation": { "type": "integer" }, "applied": { "type": "array", "items": { "type": "string" } }, "restart_required": { "type": "array", "items": { "type": "string" } } } },
                "HealthWindow": { "type": "object", "properties": { "camera": { "type": "string" }, "since_ms": { "type": "integer" }, "samples": { "type": "integer" }, "online_rate": { "type": "number", "nullable": true }, "image_availability_rate": { "type": "number", "nullable": true }, "mean_input_fps": { "type": "number", "nullable": true } } },
                "Event": event_schema
            }
        }
    })
}
