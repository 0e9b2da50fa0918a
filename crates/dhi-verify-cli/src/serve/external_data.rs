//! `POST /external-data`: Gatekeeper's external-data provider protocol
//! (`externaldata.gatekeeper.sh/v1beta1`): a `ProviderRequest` whose
//! `request.keys` are images, answered by a `ProviderResponse` with one
//! item per key — `value` the reference pinned to the verified digest, or
//! `error` saying why the image may not run — and `systemError` when the
//! request as a whole cannot be answered. Kyverno's `apiCall` can post the
//! same body. Gatekeeper's types are Go structs with no Rust crate, so the
//! wire shapes are written here from its documentation.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::{State, Treatment};

/// The API version Gatekeeper sends and expects back.
pub(crate) const API_VERSION: &str = "externaldata.gatekeeper.sh/v1beta1";

/// Most keys answered in one request; more is a `systemError` (Gatekeeper
/// batches the images of one object, so this is far above real use).
pub(crate) const MAX_KEYS: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProviderRequest {
    api_version: String,
    kind: String,
    request: RequestBody,
}

#[derive(Debug, Deserialize)]
struct RequestBody {
    keys: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ProviderResponse {
    api_version: &'static str,
    kind: &'static str,
    response: ResponseBody,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ResponseBody {
    idempotent: bool,
    items: Vec<Item>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Item {
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// A body that is not a `ProviderRequest`: HTTP 400.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BadProviderRequest {
    /// Not JSON of the shape.
    #[error("expected a ProviderRequest ({API_VERSION}) as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Another version or kind.
    #[error(
        "expected apiVersion {API_VERSION} and kind ProviderRequest, found {api_version} {kind}"
    )]
    Version {
        /// What came.
        api_version: String,
        /// What came.
        kind: String,
    },
}

/// The response body and whether every key verified.
pub(crate) async fn answer(
    state: &Arc<State>,
    body: &[u8],
) -> Result<(serde_json::Value, bool), BadProviderRequest> {
    let request: ProviderRequest = serde_json::from_slice(body)?;
    if request.api_version != API_VERSION || request.kind != "ProviderRequest" {
        return Err(BadProviderRequest::Version {
            api_version: request.api_version,
            kind: request.kind,
        });
    }
    let keys = request.request.keys;
    let response = if keys.len() > MAX_KEYS {
        ResponseBody {
            idempotent: true,
            items: Vec::new(),
            system_error: Some(format!(
                "expected at most {MAX_KEYS} keys, found {}",
                keys.len()
            )),
        }
    } else {
        let budget = state.settings.external_data_deadline;
        let deadline = Instant::now() + budget;
        // No namespace here: rules and exemptions scoped to namespaces do
        // not apply; an exempt key is answered as written, not pinned.
        let treatments: Vec<Treatment> = keys.iter().map(|k| state.treatment(k, None)).collect();
        let answers = state
            .answers(
                keys.iter().zip(&treatments).filter_map(|(k, t)| match t {
                    Treatment::Verify { rule, .. } => Some((k.as_str(), *rule)),
                    Treatment::Exempt(_) => None,
                }),
                deadline,
                budget,
                // No pod: no pull secrets; the server's own credentials.
                None,
            )
            .await;
        let items = keys
            .iter()
            .zip(&treatments)
            .map(|(key, treatment)| {
                let rule = match treatment {
                    Treatment::Exempt(_) => {
                        return Item {
                            key: key.clone(),
                            value: Some(key.clone()),
                            error: None,
                        }
                    }
                    Treatment::Verify { rule, .. } => *rule,
                };
                match answers.get(&(key.as_str(), rule)) {
                    Some(a) => match (a.verified(), a.reason(key)) {
                        (Some(digest), _) => Item {
                            key: key.clone(),
                            value: Some(if key.contains('@') {
                                key.clone()
                            } else {
                                format!("{key}@{digest}")
                            }),
                            error: None,
                        },
                        (None, reason) => Item {
                            key: key.clone(),
                            value: None,
                            error: Some(
                                reason.unwrap_or_else(|| format!("{key} was not verified")),
                            ),
                        },
                    },
                    None => Item {
                        key: key.clone(),
                        value: None,
                        error: Some(format!("{key} was not checked")),
                    },
                }
            })
            .collect();
        ResponseBody {
            idempotent: true,
            items,
            system_error: None,
        }
    };
    let all = response.system_error.is_none()
        && response
            .items
            .iter()
            .all(|i| i.error.is_none() && i.value.is_some());
    let value = serde_json::to_value(ProviderResponse {
        api_version: API_VERSION,
        kind: "ProviderResponse",
        response,
    })?;
    Ok((value, all))
}
