-- Provisioning (PostgreSQL): service equipment with its profile and provisioning status, MAC
-- addresses for matching, the audit log and declarative rules. Times are unix milliseconds.

CREATE TABLE equipment (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    serial TEXT,
    serial_key TEXT COLLATE "C" UNIQUE,
    model TEXT,
    status TEXT NOT NULL,
    customer_id BIGINT,
    location_id BIGINT,
    profile TEXT NOT NULL,
    profile_version BIGINT NOT NULL DEFAULT 1,
    device_id TEXT COLLATE "C" UNIQUE,
    prov_state TEXT NOT NULL DEFAULT 'pending',
    prov_applied_version BIGINT,
    prov_attempts BIGINT NOT NULL DEFAULT 0,
    prov_last_fault TEXT,
    prov_next_attempt_at BIGINT,
    prov_updated_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE equipment_macs (
    mac TEXT COLLATE "C" PRIMARY KEY,
    equipment_id BIGINT NOT NULL REFERENCES equipment (id) ON DELETE CASCADE
);
CREATE INDEX equipment_macs_equipment ON equipment_macs (equipment_id);

CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    equipment_id BIGINT,
    device_id TEXT COLLATE "C",
    detail TEXT NOT NULL DEFAULT 'null'
);
CREATE INDEX audit_log_equipment ON audit_log (equipment_id, id);
CREATE INDEX audit_log_device ON audit_log (device_id, id);

CREATE TABLE rules (
    name TEXT COLLATE "C" PRIMARY KEY,
    doc TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
