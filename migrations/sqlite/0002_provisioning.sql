-- Provisioning (SQLite): service equipment with its profile and provisioning status, MAC
-- addresses for matching, the audit log and declarative rules. Times are unix milliseconds.

CREATE TABLE equipment (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    serial TEXT,
    serial_key TEXT UNIQUE,
    model TEXT,
    status TEXT NOT NULL,
    customer_id INTEGER,
    location_id INTEGER,
    profile TEXT NOT NULL,
    profile_version INTEGER NOT NULL DEFAULT 1,
    device_id TEXT UNIQUE,
    prov_state TEXT NOT NULL DEFAULT 'pending',
    prov_applied_version INTEGER,
    prov_attempts INTEGER NOT NULL DEFAULT 0,
    prov_last_fault TEXT,
    prov_next_attempt_at INTEGER,
    prov_updated_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE equipment_macs (
    mac TEXT PRIMARY KEY NOT NULL,
    equipment_id INTEGER NOT NULL REFERENCES equipment (id) ON DELETE CASCADE
);
CREATE INDEX equipment_macs_equipment ON equipment_macs (equipment_id);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    equipment_id INTEGER,
    device_id TEXT,
    detail TEXT NOT NULL DEFAULT 'null'
);
CREATE INDEX audit_log_equipment ON audit_log (equipment_id, id);
CREATE INDEX audit_log_device ON audit_log (device_id, id);

CREATE TABLE rules (
    name TEXT PRIMARY KEY NOT NULL,
    doc TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
