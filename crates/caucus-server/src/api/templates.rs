//! Templates and their roles. The built-in templates (`breakout`, `classroom`, `webinar`,
//! `meeting`) are listed and readable but read-only: changing or deleting one is 403
//! `not_permitted` (create your own from its document instead). Every document is validated by `caucus_core::Template::compile`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use caucus_core::{Template, builtin};
use caucus_proto::{ErrorCode, RoleName, RoleSpec, TemplateId, TemplateSpec};
use caucus_store::{StoreError, Written};
use serde_json::json;

use super::body::{TemplateCreate, TemplateList, TemplateOut, TemplatePut};
use super::error::{ApiError, Envelope, JsonBody};
use super::paths::{RolePath, TemplatePath};
use super::{ApiState, Ids, check_id, check_name, created, ok, slug, unique};
use crate::api::schema::RoleSpecDoc;
use crate::control::ControlPlane;

/// Every template, the built-in ones first.
#[utoipa::path(
    get, path = "/v1/templates", tag = "templates", operation_id = "list_templates",
    responses(
        (status = 200, body = TemplateList),
        (status = 401, body = Envelope),
    )
)]
pub async fn list(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let stored = state.control.store(|s| s.list_templates()).await?;
    let mut templates: Vec<TemplateOut> = builtin::IDS
        .iter()
        .filter_map(|id| builtin::spec(id).map(|spec| TemplateOut::new(id, spec, true)))
        .collect();
    // A stored template under a built-in id (stored before that id was built in) is shadowed.
    templates.extend(
        stored
            .into_iter()
            .filter(|(id, _)| !builtin::is_builtin(id.as_str()))
            .map(|(id, spec)| TemplateOut::new(id.as_str(), spec, false)),
    );
    Ok(ok(&TemplateList { templates }))
}

/// Create a template.
#[utoipa::path(
    post, path = "/v1/templates", tag = "templates", operation_id = "create_template",
    request_body = TemplateCreate,
    responses(
        (status = 201, body = TemplateOut),
        (status = 400, body = Envelope),
        (status = 401, body = Envelope),
        (status = 409, description = "The id is taken (`already_exists`)", body = Envelope),
        (status = 413, body = Envelope),
        (status = 422, description = "Invalid document (`invalid_value`, `invalid_name`, `invalid_caps`, `unknown_role_reference`…) or id (`invalid_id`) with its field", body = Envelope),
    )
)]
pub async fn create(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<TemplateCreate>,
) -> Result<Response, ApiError> {
    let spec = TemplateSpec {
        name: body.name,
        roles: body.roles,
    };
    validate(&spec)?;
    let id = match body.id {
        Some(id) => {
            check_id("id", &id)?;
            if builtin::is_builtin(&id) {
                return Err(taken(&id));
            }
            id
        }
        None => {
            let existing: Vec<String> = state
                .control
                .store(|s| s.list_templates())
                .await?
                .into_iter()
                .map(|(id, _)| id.to_string())
                .collect();
            unique(&slug(&spec.name), |c| {
                builtin::is_builtin(c) || existing.iter().any(|e| e == c)
            })
        }
    };
    let template_id = TemplateId::from(id.as_str());
    let (check_id_, to_store) = (template_id.clone(), spec.clone());
    // Create, never replace: refuse an id that is taken.
    state
        .control
        .store(move |s| match s.get_template(&check_id_) {
            Ok(_) => Err(StoreError::Conflict {
                entity: caucus_store::Entity::Template,
                id: check_id_.to_string(),
                reason: "exists already".to_owned(),
            }),
            Err(StoreError::NotFound { .. }) => s.put_template(&check_id_, &to_store),
            Err(e) => Err(e),
        })
        .await?;
    state
        .control
        .audit(
            "template.created",
            None,
            Some(id.clone()),
            json!({"name": spec.name}),
        )
        .await;
    Ok(created(&TemplateOut::new(&id, spec, false)))
}

/// One template.
#[utoipa::path(
    get, path = "/v1/templates/{template_id}", tag = "templates", operation_id = "get_template",
    params(TemplatePath),
    responses(
        (status = 200, body = TemplateOut),
        (status = 401, body = Envelope),
        (status = 404, description = "`unknown_template`", body = Envelope),
    )
)]
pub async fn get_one(
    State(state): State<ApiState>,
    Ids(id): Ids<String>,
) -> Result<Response, ApiError> {
    let template_id = TemplateId::from(id.as_str());
    let spec = state.control.template_spec(&template_id).await?;
    Ok(ok(&TemplateOut::new(&id, spec, builtin::is_builtin(&id))))
}

/// Create or replace a template by id (201 when created, 200 when replaced).
#[utoipa::path(
    put, path = "/v1/templates/{template_id}", tag = "templates", operation_id = "replace_template",
    params(TemplatePath),
    request_body = TemplatePut,
    responses(
        (status = 200, description = "Replaced", body = TemplateOut),
        (status = 201, description = "Created", body = TemplateOut),
        (status = 400, body = Envelope),
        (status = 401, body = Envelope),
        (status = 403, description = "The built-in template is read-only", body = Envelope),
        (status = 413, body = Envelope),
        (status = 422, body = Envelope),
    )
)]
pub async fn put(
    State(state): State<ApiState>,
    Ids(id): Ids<String>,
    JsonBody(body): JsonBody<TemplatePut>,
) -> Result<Response, ApiError> {
    check_writable(&id)?;
    check_id("template_id", &id)?;
    let spec = TemplateSpec {
        name: body.name,
        roles: body.roles,
    };
    validate(&spec)?;
    let written = store_template(&state.control, &id, &spec).await?;
    state
        .control
        .audit(
            "template.updated",
            None,
            Some(id.clone()),
            json!({"name": spec.name}),
        )
        .await;
    let out = TemplateOut::new(&id, spec, false);
    Ok(match written {
        Written::Created => created(&out),
        Written::Replaced => ok(&out),
    })
}

/// Delete a template no room uses.
#[utoipa::path(
    delete, path = "/v1/templates/{template_id}", tag = "templates", operation_id = "delete_template",
    params(TemplatePath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = Envelope),
        (status = 403, description = "The built-in template is read-only", body = Envelope),
        (status = 404, body = Envelope),
        (status = 409, description = "A room uses it (`template_in_use`)", body = Envelope),
    )
)]
pub async fn delete(
    State(state): State<ApiState>,
    Ids(id): Ids<String>,
) -> Result<Response, ApiError> {
    check_writable(&id)?;
    let template_id = TemplateId::from(id.as_str());
    state
        .control
        .store(move |s| s.delete_template(&template_id))
        .await
        .map_err(|e| match e {
            StoreError::Conflict { reason, .. } => ApiError::new(
                super::error::codes::TEMPLATE_IN_USE,
                format!("template {id:?} cannot be deleted: {reason}"),
            ),
            other => other.into(),
        })?;
    state
        .control
        .audit("template.deleted", None, Some(id.clone()), json!({}))
        .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Add or replace one role of a template.
#[utoipa::path(
    put, path = "/v1/templates/{template_id}/roles/{role}", tag = "templates", operation_id = "set_template_role",
    params(RolePath),
    request_body = Option<RoleSpecDoc>,
    responses(
        (status = 200, description = "The template with the role", body = TemplateOut),
        (status = 400, body = Envelope),
        (status = 401, body = Envelope),
        (status = 403, body = Envelope),
        (status = 404, body = Envelope),
        (status = 413, body = Envelope),
        (status = 422, body = Envelope),
    )
)]
pub async fn put_role(
    State(state): State<ApiState>,
    Ids((id, role)): Ids<(String, String)>,
    JsonBody(role_spec): JsonBody<RoleSpec>,
) -> Result<Response, ApiError> {
    check_writable(&id)?;
    let mut spec = state
        .control
        .template_spec(&TemplateId::from(id.as_str()))
        .await?;
    spec.roles.insert(RoleName::from(role.as_str()), role_spec);
    validate(&spec)?;
    store_template(&state.control, &id, &spec).await?;
    state
        .control
        .audit(
            "template.role_updated",
            None,
            Some(format!("{id}/{role}")),
            json!({}),
        )
        .await;
    Ok(ok(&TemplateOut::new(&id, spec, false)))
}

/// Remove one role of a template (refused while other roles name it).
#[utoipa::path(
    delete, path = "/v1/templates/{template_id}/roles/{role}", tag = "templates", operation_id = "delete_template_role",
    params(RolePath),
    responses(
        (status = 200, description = "The template without the role", body = TemplateOut),
        (status = 401, body = Envelope),
        (status = 403, body = Envelope),
        (status = 404, description = "`unknown_template` or `unknown_role`", body = Envelope),
        (status = 422, description = "Another role still names it", body = Envelope),
    )
)]
pub async fn delete_role(
    State(state): State<ApiState>,
    Ids((id, role)): Ids<(String, String)>,
) -> Result<Response, ApiError> {
    check_writable(&id)?;
    let mut spec = state
        .control
        .template_spec(&TemplateId::from(id.as_str()))
        .await?;
    if spec.roles.remove(&RoleName::from(role.as_str())).is_none() {
        return Err(ApiError::new(
            ErrorCode::UnknownRole,
            format!("template {id} has no role {role}"),
        ));
    }
    validate(&spec)?;
    store_template(&state.control, &id, &spec).await?;
    state
        .control
        .audit(
            "template.role_deleted",
            None,
            Some(format!("{id}/{role}")),
            json!({}),
        )
        .await;
    Ok(ok(&TemplateOut::new(&id, spec, false)))
}

fn check_writable(id: &str) -> Result<(), ApiError> {
    if builtin::is_builtin(id) {
        return Err(ApiError::new(
            ErrorCode::NotPermitted,
            format!(
                "the built-in template `{id}` is read-only; create a template from its document"
            ),
        ));
    }
    Ok(())
}

fn taken(id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::AlreadyExists,
        format!("a template {id:?} exists already"),
    )
    .with_field("id")
}

fn validate(spec: &TemplateSpec) -> Result<(), ApiError> {
    check_name("name", &spec.name)?;
    Template::compile(spec.clone())
        .map(|_| ())
        .map_err(ApiError::from)
}

async fn store_template(
    control: &ControlPlane,
    id: &str,
    spec: &TemplateSpec,
) -> Result<Written, ApiError> {
    let (id, spec) = (TemplateId::from(id), spec.clone());
    Ok(control.store(move |s| s.put_template(&id, &spec)).await?)
}
