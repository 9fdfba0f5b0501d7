//! The list / query response envelope (RFC 7644 §3.4.2).
//!
//! `startIndex` is 1-based. When reading, missing `startIndex` /
//! `itemsPerPage` / `Resources` default (1, the page length, empty), since
//! servers may omit them for unpaged or empty results.

use crate::schemas;
use serde::{Deserialize, Serialize};

/// One page of query results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<T> {
    /// Always `[ListResponse URN]`.
    #[serde(default = "list_schemas")]
    pub schemas: Vec<String>,
    /// Matches across all pages.
    pub total_results: u64,
    /// 1-based index of the first resource on this page.
    #[serde(default = "one")]
    pub start_index: u64,
    /// Resources on this page.
    #[serde(default)]
    pub items_per_page: u64,
    /// The resources (capitalized on the wire, per the RFC).
    #[serde(rename = "Resources", default = "Vec::new")]
    pub resources: Vec<T>,
}

fn list_schemas() -> Vec<String> {
    vec![schemas::LIST_RESPONSE.to_owned()]
}

fn one() -> u64 {
    1
}

impl<T> ListResponse<T> {
    /// A page of `resources` starting at 1-based `start_index`, out of
    /// `total_results` matches.
    pub fn new(resources: Vec<T>, total_results: u64, start_index: u64) -> Self {
        Self {
            schemas: list_schemas(),
            total_results,
            start_index: start_index.max(1),
            items_per_page: resources.len() as u64,
            resources,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn serializes_to_the_rfc_shape() {
        let page = ListResponse::new(vec![json!({"id": "a"}), json!({"id": "b"})], 12, 3);
        assert_eq!(
            serde_json::to_value(&page).unwrap(),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": 12,
                "startIndex": 3,
                "itemsPerPage": 2,
                "Resources": [{"id": "a"}, {"id": "b"}]
            })
        );
    }

    #[test]
    fn empty_pages_keep_resources_and_start_at_one() {
        let page: ListResponse<Value> = ListResponse::new(vec![], 0, 0);
        let v = serde_json::to_value(&page).unwrap();
        assert_eq!(v["Resources"], json!([]));
        assert_eq!(v["startIndex"], 1);
    }

    #[test]
    fn reads_minimal_responses() {
        let page: ListResponse<Value> =
            serde_json::from_value(json!({"schemas": [schemas::LIST_RESPONSE], "totalResults": 0})).unwrap();
        assert_eq!(page, ListResponse::new(vec![], 0, 1));
        let page: ListResponse<Value> = serde_json::from_value(json!({"totalResults": 5, "startIndex": 1,
            "itemsPerPage": 1, "Resources": [{"id": "x"}]}))
        .unwrap();
        assert_eq!(page.resources.len(), 1);
        assert_eq!(page.schemas, [schemas::LIST_RESPONSE]);
    }
}
