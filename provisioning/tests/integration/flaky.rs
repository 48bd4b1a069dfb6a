//! A store wrapper whose `apply_telemetry` fails on demand, to test write-behind retries.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use provisioning::equipment::{
    AuditEntry, AuditFilter, Equipment, EquipmentFilter, NewAudit, NewEquipment, Profile,
    ProvisioningStatus,
};
use provisioning::rules::Rule;
use provisioning::{
    async_trait, ApiToken, Device, DeviceFilter, Fault, FaultFilter, FileMeta, NewFault, NewTask,
    Parameter, Result, Store, StoreError, Task, TaskFilter, Telemetry,
};
use time::OffsetDateTime;

#[derive(Debug)]
pub struct FlakyStore {
    pub inner: Arc<dyn Store>,
    /// `apply_telemetry` fails (as a storage error) while this is above zero, decrementing it.
    pub fail_next: AtomicU32,
    /// Successful and failed `apply_telemetry` calls.
    pub calls: AtomicU32,
}

impl FlakyStore {
    pub fn new(inner: Arc<dyn Store>, fail_next: u32) -> Self {
        FlakyStore { inner, fail_next: AtomicU32::new(fail_next), calls: AtomicU32::new(0) }
    }
}

#[async_trait]
impl Store for FlakyStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
    async fn upsert_device(&self, d: &Device) -> Result<()> {
        self.inner.upsert_device(d).await
    }
    async fn get_device(&self, id: &str) -> Result<Option<Device>> {
        self.inner.get_device(id).await
    }
    async fn list_devices(&self, f: &DeviceFilter) -> Result<Vec<Device>> {
        self.inner.list_devices(f).await
    }
    async fn all_devices(&self) -> Result<Vec<Device>> {
        self.inner.all_devices().await
    }
    async fn devices_after(&self, after: &str, limit: u32) -> Result<Vec<Device>> {
        self.inner.devices_after(after, limit).await
    }
    async fn delete_device(&self, id: &str) -> Result<bool> {
        self.inner.delete_device(id).await
    }
    async fn add_tag(&self, id: &str, tag: &str) -> Result<bool> {
        self.inner.add_tag(id, tag).await
    }
    async fn remove_tag(&self, id: &str, tag: &str) -> Result<bool> {
        self.inner.remove_tag(id, tag).await
    }
    async fn apply_telemetry(&self, batch: &[Telemetry]) -> Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let failing = self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(StoreError::Database(sqlx::Error::PoolTimedOut));
        }
        self.inner.apply_telemetry(batch).await
    }
    async fn upsert_parameters(&self, device_id: &str, params: &[Parameter]) -> Result<()> {
        self.inner.upsert_parameters(device_id, params).await
    }
    async fn get_parameters(&self, device_id: &str, prefix: &str) -> Result<Vec<Parameter>> {
        self.inner.get_parameters(device_id, prefix).await
    }
    async fn delete_parameters(&self, device_id: &str, prefix: &str) -> Result<u64> {
        self.inner.delete_parameters(device_id, prefix).await
    }
    async fn insert_task(&self, t: &NewTask) -> Result<Task> {
        self.inner.insert_task(t).await
    }
    async fn get_task(&self, id: i64) -> Result<Option<Task>> {
        self.inner.get_task(id).await
    }
    async fn list_tasks(&self, f: &TaskFilter) -> Result<Vec<Task>> {
        self.inner.list_tasks(f).await
    }
    async fn next_due_task(&self, device_id: &str, now: OffsetDateTime) -> Result<Option<Task>> {
        self.inner.next_due_task(device_id, now).await
    }
    async fn update_task(&self, t: &Task) -> Result<()> {
        self.inner.update_task(t).await
    }
    async fn complete_task(
        &self,
        t: &Task,
        forget: &[String],
        learned: &[Parameter],
    ) -> Result<()> {
        self.inner.complete_task(t, forget, learned).await
    }
    async fn delete_task(&self, id: i64) -> Result<bool> {
        self.inner.delete_task(id).await
    }
    async fn requeue_running_tasks(&self) -> Result<u64> {
        self.inner.requeue_running_tasks().await
    }
    async fn devices_with_due_tasks(&self) -> Result<Vec<String>> {
        self.inner.devices_with_due_tasks().await
    }
    async fn find_task_by_command_key(
        &self,
        device_id: &str,
        command_key: &str,
    ) -> Result<Option<Task>> {
        self.inner.find_task_by_command_key(device_id, command_key).await
    }
    async fn insert_fault(&self, f: &NewFault) -> Result<Fault> {
        self.inner.insert_fault(f).await
    }
    async fn list_faults(&self, f: &FaultFilter) -> Result<Vec<Fault>> {
        self.inner.list_faults(f).await
    }
    async fn delete_fault(&self, id: i64) -> Result<bool> {
        self.inner.delete_fault(id).await
    }
    async fn put_file(&self, m: &FileMeta) -> Result<()> {
        self.inner.put_file(m).await
    }
    async fn get_file(&self, name: &str) -> Result<Option<FileMeta>> {
        self.inner.get_file(name).await
    }
    async fn list_files(&self) -> Result<Vec<FileMeta>> {
        self.inner.list_files().await
    }
    async fn delete_file(&self, name: &str) -> Result<bool> {
        self.inner.delete_file(name).await
    }
    async fn insert_api_token(&self, name: &str, token_hash: &str, role: &str) -> Result<()> {
        self.inner.insert_api_token(name, token_hash, role).await
    }
    async fn find_api_token(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        self.inner.find_api_token(token_hash).await
    }
    async fn count_api_tokens(&self) -> Result<u64> {
        self.inner.count_api_tokens().await
    }
    async fn get_setting(&self, key: &str) -> Result<Option<String>> {
        self.inner.get_setting(key).await
    }
    async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.inner.set_setting(key, value).await
    }
    async fn insert_equipment(&self, e: &NewEquipment) -> Result<Equipment> {
        self.inner.insert_equipment(e).await
    }
    async fn get_equipment(&self, id: i64) -> Result<Option<Equipment>> {
        self.inner.get_equipment(id).await
    }
    async fn list_equipment(&self, f: &EquipmentFilter) -> Result<Vec<Equipment>> {
        self.inner.list_equipment(f).await
    }
    async fn update_equipment(&self, id: i64, e: &NewEquipment) -> Result<Equipment> {
        self.inner.update_equipment(id, e).await
    }
    async fn set_equipment_profile(&self, id: i64, p: &Profile) -> Result<Equipment> {
        self.inner.set_equipment_profile(id, p).await
    }
    async fn delete_equipment(&self, id: i64) -> Result<bool> {
        self.inner.delete_equipment(id).await
    }
    async fn bind_equipment(&self, equipment_id: i64, device_id: &str) -> Result<()> {
        self.inner.bind_equipment(equipment_id, device_id).await
    }
    async fn unbind_equipment(&self, equipment_id: i64) -> Result<bool> {
        self.inner.unbind_equipment(equipment_id).await
    }
    async fn set_provisioning_status(&self, id: i64, s: &ProvisioningStatus) -> Result<()> {
        self.inner.set_provisioning_status(id, s).await
    }
    async fn insert_audit(&self, a: &NewAudit) -> Result<AuditEntry> {
        self.inner.insert_audit(a).await
    }
    async fn list_audit(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        self.inner.list_audit(f).await
    }
    async fn put_rule(&self, r: &Rule) -> Result<Rule> {
        self.inner.put_rule(r).await
    }
    async fn get_rule(&self, name: &str) -> Result<Option<Rule>> {
        self.inner.get_rule(name).await
    }
    async fn list_rules(&self) -> Result<Vec<Rule>> {
        self.inner.list_rules().await
    }
    async fn delete_rule(&self, name: &str) -> Result<bool> {
        self.inner.delete_rule(name).await
    }
    async fn seed_rules(&self, rules: &[Rule]) -> Result<u32> {
        self.inner.seed_rules(rules).await
    }
}
