use actix_web::{get, post, web};
use catalog_core::job::{
    ClaimRequest, ClaimResponse, FinishRequest, FinishResponse, HeartbeatRequest,
    HeartbeatResponse, JobInfo, JobStatus, JobsResponse, SubmitRequest,
};
use serde::Deserialize;

use super::files::registered;
use crate::app::AppState;
use crate::auth::{access, AnyCaller, Caller};
use crate::db::DbConn;
use crate::error::{Code, Result};
use crate::jobs;

/// Submit a job: its spec is checked, its input query run and split into subjobs.
#[utoipa::path(post, path = "/api/v1/jobs", request_body = SubmitRequest,
    responses((status = 200, body = JobInfo), (status = 400, body = catalog_core::api::Problem)))]
#[post("/jobs")]
pub async fn submit(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<SubmitRequest>,
) -> Result<web::Json<JobInfo>> {
    Ok(web::Json(
        state
            .db
            .write(move |c| {
                // Checked now, not after hours of computing: the submitter may write where
                // the outputs go.
                let dirs = jobs::output_dirs(&req.spec);
                access::check_create(c, &caller, dirs.iter().map(String::as_str))?;
                jobs::submit(c, &req, &caller.name)
            })
            .await?,
    ))
}

/// Every job, with its subjob counts.
#[utoipa::path(get, path = "/api/v1/jobs", responses((status = 200, body = JobsResponse)))]
#[get("/jobs")]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<web::Json<JobsResponse>> {
    let owner = (!caller.admin).then_some(caller.name);
    Ok(web::Json(JobsResponse {
        jobs: state
            .db
            .read(move |c| jobs::list(c, owner.as_deref()))
            .await?,
    }))
}

/// One job with each subjob's state, attempts, runner, exit code, inputs, outputs and logs.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", params(("id" = i64, Path, description = "the job number")), responses((status = 200, body = JobStatus), (status = 404)))]
#[get("/jobs/{id}")]
pub async fn status(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<web::Json<JobStatus>> {
    let id = id.into_inner();
    Ok(web::Json(
        own_job(&state, caller, id, false, move |c| jobs::status(c, id)).await?,
    ))
}

/// A job's state and subjob counts, without the subjobs (cheap to poll).
#[utoipa::path(get, path = "/api/v1/jobs/{id}/info", params(("id" = i64, Path, description = "the job number")), responses((status = 200, body = JobInfo), (status = 404)))]
#[get("/jobs/{id}/info")]
pub async fn info(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<web::Json<JobInfo>> {
    let id = id.into_inner();
    Ok(web::Json(
        own_job(&state, caller, id, false, move |c| jobs::info(c, id)).await?,
    ))
}

/// Kill a job: its unfinished subjobs stop.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/kill", params(("id" = i64, Path, description = "the job number")), responses((status = 200, body = JobInfo), (status = 404), (status = 409)))]
#[post("/jobs/{id}/kill")]
pub async fn kill(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<web::Json<JobInfo>> {
    let id = id.into_inner();
    Ok(web::Json(
        own_job(&state, caller, id, true, move |c| jobs::kill(c, id)).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResubmitRequest {
    /// Only failed subjobs (else failed and killed ones).
    #[serde(default)]
    pub failed_only: bool,
}

/// Run failed (and killed) subjobs again.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/resubmit", params(("id" = i64, Path, description = "the job number")), request_body = ResubmitRequest,
    responses((status = 200, body = JobInfo), (status = 404), (status = 409)))]
#[post("/jobs/{id}/resubmit")]
pub async fn resubmit(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    req: web::Json<ResubmitRequest>,
) -> Result<web::Json<JobInfo>> {
    let id = id.into_inner();
    let again = move |c: &mut DbConn| jobs::resubmit(c, id, req.failed_only);
    Ok(web::Json(own_job(&state, caller, id, true, again).await?))
}

/// A runner asks for subjobs that fit its free capacity; each comes with a lease.
#[utoipa::path(post, path = "/api/v1/runners/claim", request_body = ClaimRequest, responses((status = 200, body = ClaimResponse)))]
#[post("/runners/claim")]
pub async fn claim(
    state: web::Data<AppState>,
    AnyCaller(caller): AnyCaller,
    req: web::Json<ClaimRequest>,
) -> Result<web::Json<ClaimResponse>> {
    let mut leases = state
        .db
        .write(move |c| {
            jobs::check_runs(c, &caller, req.job)?;
            jobs::claim(c, &req)
        })
        .await?;
    for lease in &mut leases {
        lease.checksums = state.checksums.names();
    }
    Ok(web::Json(ClaimResponse { leases }))
}

/// A runner renews its leases and learns which subjobs to stop.
#[utoipa::path(post, path = "/api/v1/runners/heartbeat", request_body = HeartbeatRequest, responses((status = 200, body = HeartbeatResponse)))]
#[post("/runners/heartbeat")]
pub async fn heartbeat(
    state: web::Data<AppState>,
    AnyCaller(caller): AnyCaller,
    req: web::Json<HeartbeatRequest>,
) -> Result<web::Json<HeartbeatResponse>> {
    Ok(web::Json(
        state
            .db
            .write(move |c| {
                jobs::check_runs(c, &caller, req.leases.iter().map(|l| l.job))?;
                jobs::heartbeat(c, &req)
            })
            .await?,
    ))
}

/// An attempt succeeded: its uploaded outputs are registered with metadata and provenance in
/// one transaction. When they cannot be (a bad value, a schema, an LFN taken), the attempt
/// fails with that reason instead.
#[utoipa::path(post, path = "/api/v1/runners/complete", request_body = FinishRequest,
    responses((status = 200, body = FinishResponse), (status = 409)))]
#[post("/runners/complete")]
pub async fn complete(
    state: web::Data<AppState>,
    AnyCaller(caller): AnyCaller,
    req: web::Json<FinishRequest>,
) -> Result<web::Json<FinishResponse>> {
    let req = req.into_inner();
    let r = req.clone();
    let complete = move |c: &mut DbConn| {
        jobs::check_runs(c, &caller, [r.lease.job])?;
        jobs::complete(c, &r)
    };
    let (job, subjob) = (req.lease.job, req.lease.subjob);
    match state.db.write(complete).await {
        Ok(resp) => {
            registered(&state, resp.registered.clone()).await;
            crate::leftovers::sweep_later(&state.db, job, subjob);
            Ok(web::Json(resp))
        }
        Err(e)
            if e.code() == Code::BadRequest
                || e.code() == Code::Conflict && !e.to_string().contains("is stale") =>
        {
            let mut failed = req;
            failed.reason = Some(format!("outputs refused: {e}"));
            failed.outputs.clear();
            let resp = state.db.write(move |c| jobs::fail(c, &failed)).await?;
            sweep_if_ended(&state, job, subjob, &resp);
            Ok(web::Json(resp))
        }
        Err(e) => Err(e),
    }
}

/// Once a subjob has failed for good, what its attempts uploaded is removed.
fn sweep_if_ended(state: &AppState, job: i64, subjob: i64, resp: &FinishResponse) {
    if resp.state == jobs::state::FAILED {
        crate::leftovers::sweep_later(&state.db, job, subjob);
    }
}

/// An attempt failed; it is retried while attempts remain.
#[utoipa::path(post, path = "/api/v1/runners/fail", request_body = FinishRequest, responses((status = 200, body = FinishResponse), (status = 409)))]
#[post("/runners/fail")]
pub async fn fail(
    state: web::Data<AppState>,
    AnyCaller(caller): AnyCaller,
    req: web::Json<FinishRequest>,
) -> Result<web::Json<FinishResponse>> {
    let (job, subjob) = (req.lease.job, req.lease.subjob);
    let resp = state
        .db
        .write(move |c| {
            jobs::check_runs(c, &caller, [req.lease.job])?;
            jobs::fail(c, &req)
        })
        .await?;
    sweep_if_ended(&state, job, subjob, &resp);
    Ok(web::Json(resp))
}

/// Runs `f` on job `id` (in a write transaction when `write`) once the caller is found to
/// be its submitter or an admin.
async fn own_job<R, F>(state: &AppState, caller: Caller, id: i64, write: bool, f: F) -> Result<R>
where
    R: Send + 'static,
    F: FnOnce(&mut DbConn) -> Result<R> + Send + 'static,
{
    let run = move |c: &mut DbConn| {
        jobs::check_owner(c, &caller, id)?;
        f(c)
    };
    if write {
        state.db.write(run).await
    } else {
        state.db.read(run).await
    }
}
