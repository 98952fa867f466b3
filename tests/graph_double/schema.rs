//! The Graph schema subset (CSDL) as a JSON checker: every property must exist on the type (or
//! a base type), with the right primitive, enum member or nested type.

use serde_json::Value;
use std::collections::HashMap;

struct TypeDef {
    base: Option<String>,
    open: bool,
    props: Vec<(String, String)>,
}

pub struct Schema {
    types: HashMap<String, TypeDef>,
    enums: HashMap<String, (Vec<String>, bool)>,
}

impl Schema {
    pub fn load() -> Schema {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/graph/v1.0-authentication.csdl.xml"
        );
        let text = std::fs::read_to_string(path).expect("schema subset");
        let doc = roxmltree::Document::parse(&text).expect("CSDL is XML");
        let mut types = HashMap::new();
        let mut enums = HashMap::new();
        for node in doc.descendants() {
            match node.tag_name().name() {
                "EntityType" | "ComplexType" => {
                    let name = format!("graph.{}", node.attribute("Name").unwrap());
                    let props = node
                        .children()
                        .filter(|c| {
                            matches!(c.tag_name().name(), "Property" | "NavigationProperty")
                        })
                        .map(|c| {
                            (
                                c.attribute("Name").unwrap().to_string(),
                                c.attribute("Type").unwrap().to_string(),
                            )
                        })
                        .collect();
                    types.insert(
                        name,
                        TypeDef {
                            base: node.attribute("BaseType").map(str::to_string),
                            open: node.attribute("OpenType") == Some("true"),
                            props,
                        },
                    );
                }
                "EnumType" => {
                    let name = format!("graph.{}", node.attribute("Name").unwrap());
                    let members = node
                        .children()
                        .filter(|c| c.tag_name().name() == "Member")
                        .map(|c| c.attribute("Name").unwrap().to_string())
                        .collect();
                    enums.insert(name, (members, node.attribute("IsFlags") == Some("true")));
                }
                _ => {}
            }
        }
        // The root of every entity, outside the subset.
        types.insert(
            "graph.entity".into(),
            TypeDef {
                base: None,
                open: false,
                props: vec![("id".into(), "Edm.String".into())],
            },
        );
        Schema { types, enums }
    }

    fn derives(&self, ty: &str, from: &str) -> bool {
        let mut t = Some(ty.to_string());
        while let Some(name) = t {
            if name == from {
                return true;
            }
            t = self.types.get(&name).and_then(|d| d.base.clone());
        }
        false
    }

    fn prop_type(&self, ty: &str, prop: &str) -> Option<String> {
        let mut t = Some(ty.to_string());
        while let Some(name) = t {
            let def = self.types.get(&name)?;
            if let Some((_, pt)) = def.props.iter().find(|(n, _)| n == prop) {
                return Some(pt.clone());
            }
            t = def.base.clone();
        }
        None
    }

    fn is_open(&self, ty: &str) -> bool {
        self.types.get(ty).is_some_and(|d| d.open)
    }

    /// Violations of `value` against type `ty` (e.g. `graph.fido2AuthenticationMethod`).
    pub fn check(&self, value: &Value, ty: &str, at: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.check_into(value, ty, at, &mut out);
        out
    }

    fn check_into(&self, v: &Value, ty: &str, at: &str, out: &mut Vec<String>) {
        if v.is_null() {
            return;
        }
        if let Some(inner) = ty
            .strip_prefix("Collection(")
            .and_then(|s| s.strip_suffix(')'))
        {
            match v.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.check_into(item, inner, &format!("{at}[{i}]"), out);
                    }
                }
                None => out.push(format!("{at}: expected a list of {inner}")),
            }
            return;
        }
        let ok = match ty {
            "Edm.String" => v.is_string(),
            "Edm.Boolean" => v.is_boolean(),
            "Edm.Int32" | "Edm.Int64" => v.is_i64() || v.is_u64(),
            "Edm.DateTimeOffset" => v.as_str().is_some_and(|s| {
                time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                    .is_ok()
            }),
            "Edm.Guid" => v.as_str().is_some_and(|s| uuid::Uuid::parse_str(s).is_ok()),
            _ if self.enums.contains_key(ty) => {
                let (members, flags) = &self.enums[ty];
                v.as_str().is_some_and(|s| {
                    if *flags {
                        s.split(',').all(|p| members.iter().any(|m| m == p.trim()))
                    } else {
                        members.iter().any(|m| m == s)
                    }
                })
            }
            _ if self.types.contains_key(ty) => {
                let Some(obj) = v.as_object() else {
                    out.push(format!("{at}: expected an object of {ty}"));
                    return;
                };
                let mut actual = ty.to_string();
                if let Some(t) = obj.get("@odata.type").and_then(|t| t.as_str()) {
                    let named = format!("graph.{}", t.trim_start_matches("#microsoft.graph."));
                    if !self.types.contains_key(&named) || !self.derives(&named, ty) {
                        out.push(format!("{at}: @odata.type {t} is not a {ty}"));
                        return;
                    }
                    actual = named;
                }
                if self.is_open(&actual) {
                    return;
                }
                for (k, val) in obj {
                    if k.starts_with("@odata.") {
                        continue;
                    }
                    match self.prop_type(&actual, k) {
                        Some(pt) => self.check_into(val, &pt, &format!("{at}.{k}"), out),
                        None => out.push(format!("{at}: {actual} has no property `{k}`")),
                    }
                }
                true
            }
            // Types outside the subset are not judged.
            _ => true,
        };
        if !ok {
            out.push(format!("{at}: {v} is not a valid {ty}"));
        }
    }
}
