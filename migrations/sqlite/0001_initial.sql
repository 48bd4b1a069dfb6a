-- Initial schema (SQLite). Times are INTEGER unix milliseconds (UTC); JSON documents are TEXT.

CREATE TABLE devices (
    id TEXT PRIMARY KEY NOT NULL,
    protocol TEXT NOT NULL,
    oui TEXT NOT NULL,
    product_class TEXT NOT NULL,
    serial_number TEXT NOT NULL,
    manufacturer TEXT NOT NULL,
    model_name TEXT,
    software_version TEXT,
    hardware_version TEXT,
    data_model TEXT NOT NULL,
    registered_at INTEGER NOT NULL,
    last_inform_at INTEGER,
    last_boot_at INTEGER,
    last_bootstrap_at INTEGER,
    last_events TEXT NOT NULL DEFAULT '[]',
    ip TEXT,
    connection_request_url TEXT,
    udp_connection_request_address TEXT,
    cr_username TEXT,
    cr_password TEXT,
    cpe_username TEXT,
    cpe_password TEXT,
    periodic_inform_interval INTEGER,
    equipment_id INTEGER
);
CREATE INDEX devices_serial ON devices (serial_number);
CREATE INDEX devices_oui_pc ON devices (oui, product_class);
CREATE INDEX devices_last_inform ON devices (last_inform_at);

CREATE TABLE device_tags (
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (device_id, tag)
);
CREATE INDEX device_tags_tag ON device_tags (tag);

CREATE TABLE parameters (
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    value TEXT,
    value_type TEXT,
    writable INTEGER,
    notification INTEGER,
    access_list TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, path)
) WITHOUT ROWID;

CREATE TABLE tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    not_before INTEGER NOT NULL,
    expires_at INTEGER,
    command_key TEXT,
    result TEXT,
    fault TEXT
);
CREATE INDEX tasks_device_status ON tasks (device_id, status, id);
CREATE INDEX tasks_status ON tasks (status);
CREATE INDEX tasks_command_key ON tasks (device_id, command_key) WHERE command_key IS NOT NULL;

CREATE TABLE faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    task_id INTEGER REFERENCES tasks (id) ON DELETE SET NULL,
    channel TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT 'null',
    retries INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX faults_device ON faults (device_id);
CREATE INDEX faults_task ON faults (task_id);

CREATE TABLE files (
    name TEXT PRIMARY KEY NOT NULL,
    file_type TEXT NOT NULL,
    oui TEXT,
    product_class TEXT,
    version TEXT,
    length INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    content_type TEXT,
    uploaded_at INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE settings (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
