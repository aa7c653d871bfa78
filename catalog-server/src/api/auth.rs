use actix_web::{get, web};
use catalog_core::api::WhoAmI;

use crate::app::AppState;
use crate::auth::AnyCaller;

/// Who the server takes the caller for: user, groups, role.
#[utoipa::path(get, path = "/api/v1/whoami", responses((status = 200, body = WhoAmI), (status = 401)))]
#[get("/whoami")]
pub async fn whoami(state: web::Data<AppState>, AnyCaller(caller): AnyCaller) -> web::Json<WhoAmI> {
    web::Json(WhoAmI {
        user: caller.name,
        groups: caller.groups,
        admin: caller.admin,
        runner: caller.runner,
        auth: state.auth.describe().to_owned(),
    })
}
