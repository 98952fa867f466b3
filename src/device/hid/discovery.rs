//! Finding FIDO keys on USB HID: every HID interface on the FIDO usage page (0xF1D0).

use super::super::{Backend, DeviceDescriptor, DeviceError};

pub const FIDO_USAGE_PAGE: u16 = 0xF1D0;

/// What `hidapi` tells us about one HID interface, in plain types (so it can be tested).
#[derive(Debug, Clone, Default)]
pub struct HidEntry {
    pub path: String,
    pub usage_page: u16,
    pub vendor_id: u16,
    pub product_id: u16,
    pub manufacturer: Option<String>,
    pub product: Option<String>,
    pub serial: Option<String>,
}

pub fn discover() -> Result<Vec<DeviceDescriptor>, DeviceError> {
    let api = hidapi::HidApi::new().map_err(|e| DeviceError::Environment {
        message: format!("cannot list USB HID devices: {e}"),
    })?;
    let entries = api.device_list().map(|d| HidEntry {
        path: d.path().to_string_lossy().into_owned(),
        usage_page: d.usage_page(),
        vendor_id: d.vendor_id(),
        product_id: d.product_id(),
        manufacturer: d.manufacturer_string().map(str::to_string),
        product: d.product_string().map(str::to_string),
        serial: d.serial_number().map(str::to_string),
    });
    Ok(descriptors(entries))
}

/// FIDO interfaces only, one per path, in a stable order.
pub fn descriptors(entries: impl IntoIterator<Item = HidEntry>) -> Vec<DeviceDescriptor> {
    let mut out: Vec<DeviceDescriptor> = entries
        .into_iter()
        .filter(|e| e.usage_page == FIDO_USAGE_PAGE && !e.path.is_empty())
        .map(|e| DeviceDescriptor {
            spec: format!("hid:{}", e.path),
            backend: Backend::Hid,
            vendor_id: Some(e.vendor_id),
            product_id: Some(e.product_id),
            manufacturer: clean(e.manufacturer),
            product: clean(e.product),
            serial: clean(e.serial),
        })
        .collect();
    out.sort_by(|a, b| a.spec.cmp(&b.spec));
    // macOS and Windows can list one interface more than once (one entry per usage).
    out.dedup_by(|a, b| a.spec == b.spec);
    out
}

/// Empty or whitespace strings from a key's USB descriptors say nothing.
fn clean(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().trim_end_matches('\0').to_string())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, page: u16) -> HidEntry {
        HidEntry {
            path: path.into(),
            usage_page: page,
            vendor_id: 0x1050,
            product_id: 0x0407,
            manufacturer: Some("Yubico".into()),
            product: Some("YubiKey OTP+FIDO+CCID".into()),
            serial: Some("  ".into()),
        }
    }

    #[test]
    fn only_fido_interfaces_are_listed_with_a_hid_spec() {
        let keys = descriptors(vec![
            entry("/dev/hidraw1", 0x0001), // the same key's keyboard (OTP) interface
            entry("/dev/hidraw2", FIDO_USAGE_PAGE),
        ]);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].spec, "hid:/dev/hidraw2");
        assert_eq!(keys[0].vendor_id, Some(0x1050));
        assert_eq!(keys[0].product.as_deref(), Some("YubiKey OTP+FIDO+CCID"));
        assert_eq!(keys[0].serial, None, "a blank serial is no serial");
    }

    #[test]
    fn duplicate_interfaces_are_listed_once() {
        let keys = descriptors(vec![
            entry("DevSrvsID:4295", FIDO_USAGE_PAGE),
            entry("DevSrvsID:4295", FIDO_USAGE_PAGE),
        ]);
        assert_eq!(keys.len(), 1);
    }
}
