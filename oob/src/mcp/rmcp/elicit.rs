//! Revision 2025-11-25: the in-call URL-mode `elicitation/create`, the user's answer, and
//! what [`OobTools`] reads from the store and the vault for either revision.

use std::time::Duration;

use ::rmcp::model::{ElicitRequestParams, ElicitationAction, ErrorData};
use ::rmcp::service::{RequestContext, RoleServer};

use super::respond::{
    finished_result, internal, outcome_finish, policy, tool_error, url_elicitation_required,
};
use super::{Gate, OobTools, UrlAsk, notify};
use crate::capability::NamespaceToken;
use crate::error::Error;
use crate::manager::{Joined, Outcome};
use crate::mcp::{ElicitationModes, UrlElicitation, UrlElicitationRequired};
use crate::payload::OobPayload;
use crate::pending::Pending;
use crate::provider::NamespaceProvider;
use crate::spec::Spec;
use crate::state::Open;
use crate::store::{Finished, Store};
use crate::vault::Vault;

/// How long a gate reads a completed pending's credential again before it says none was
/// stored (see [`OobTools::load_completed`]).
const PERSIST_WAIT: Duration = Duration::from_secs(2);

impl<T, S, P, V> OobTools<T, S, P, V>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
    P: NamespaceProvider<RequestContext<RoleServer>>,
{
    /// 2025-11-25: asks in the call when it can, handles the answer, and falls back to the
    /// `-32042` error with one completion notifier for this pending and session.
    pub(super) async fn elicit<Val>(
        &self,
        ctx: &RequestContext<RoleServer>,
        caller: &NamespaceToken<'_>,
        open: Pending<T, Open>,
        modes: ElicitationModes,
        message: &str,
        key: &str,
    ) -> Result<Gate<Val>, ErrorData>
    where
        V: Vault<Val>,
    {
        let elicitation = UrlElicitation::new(&open, message, modes).map_err(policy)?;
        let id = open.id();
        let session = notify::session_of(ctx);
        let mut accepted = self.sessions.accepted(&session, id);
        if self.url_ask == UrlAsk::Request && !accepted {
            let params = ElicitRequestParams::UrlElicitationParams {
                meta: None,
                message: elicitation.message().to_owned(),
                url: elicitation.url().to_owned(),
                elicitation_id: elicitation.elicitation_id().to_owned(),
            };
            match ctx
                .peer
                .create_elicitation_with_timeout(params, Some(self.ask_within))
                .await
            {
                Ok(answer) => match answer.action {
                    ElicitationAction::Accept => {
                        self.sessions.accept(&session, id);
                        accepted = true;
                    }
                    ElicitationAction::Decline => {
                        return self.end(caller, open, Finished::Declined, key).await;
                    }
                    // Cancel, and whatever a later revision adds: the user did not agree.
                    _ => return self.end(caller, open, Finished::Cancelled, key).await,
                },
                Err(e) => tracing::debug!(target: "oob", error = %e,
                    "the in-call URL elicitation failed; answering -32042 instead"),
            }
        }
        if accepted {
            // Forgotten once the outcome is known, on an error, or should this call be
            // dropped while it waits; kept for the notifier when the wait times out.
            let forgetting = self.sessions.forgetting(&session, id);
            match self
                .manager
                .wait(id, self.accept_wait)
                .await
                .map_err(internal)?
            {
                Outcome::Completed(_) => {
                    drop(forgetting);
                    return self.loaded(caller, key).await;
                }
                Outcome::TimedOut => forgetting.keep(),
                other => return Ok(finished_result(outcome_finish(&other))),
            }
        }
        self.sessions
            .spawn_notifier(&self.manager, ctx, session, id, self.notify_within);
        Err(url_elicitation_required(&UrlElicitationRequired::new(
            elicitation,
        )))
    }

    /// Ends `open` as the user answered (declined or cancelled), and says so to the model.
    pub(super) async fn end<Val>(
        &self,
        caller: &NamespaceToken<'_>,
        open: Pending<T, Open>,
        how: Finished,
        key: &str,
    ) -> Result<Gate<Val>, ErrorData>
    where
        V: Vault<Val>,
    {
        let ended = if how == Finished::Declined {
            self.manager.decline(open).await
        } else {
            self.manager.cancel(open).await
        };
        match ended {
            Ok(_) => Ok(finished_result(Some(how))),
            // It finished another way first (completed in the browser a moment ago).
            Err(e) if e.is_client_error() => match self.load(caller, key).await? {
                Some(value) => Ok(Gate::Ready(value)),
                None => Ok(finished_result(Some(how))),
            },
            Err(e) => Err(internal(e)),
        }
    }

    pub(super) async fn loaded<Val>(
        &self,
        caller: &NamespaceToken<'_>,
        key: &str,
    ) -> Result<Gate<Val>, ErrorData>
    where
        V: Vault<Val>,
    {
        match self.load_completed(caller, key).await? {
            Some(value) => Ok(Gate::Ready(value)),
            None => Ok(tool_error(
                "the interaction completed but stored no credential; call the tool again",
            )),
        }
    }

    /// The credential a completion stored, read again for up to [`PERSIST_WAIT`] while it
    /// is missing: the completion may be another replica's, whose persist step can still be
    /// writing when this one reads the pending completed (`complete_with` holds only its
    /// own process's waiters).
    pub(super) async fn load_completed<Val>(
        &self,
        caller: &NamespaceToken<'_>,
        key: &str,
    ) -> Result<Option<Val>, ErrorData>
    where
        V: Vault<Val>,
    {
        let give_up = tokio::time::Instant::now() + PERSIST_WAIT;
        let mut pause = Duration::from_millis(50);
        loop {
            if let Some(value) = self.load(caller, key).await? {
                return Ok(Some(value));
            }
            if tokio::time::Instant::now() + pause > give_up {
                return Ok(None);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    pub(super) async fn open_pending(
        &self,
        ctx: &RequestContext<RoleServer>,
        spec: Spec<T>,
    ) -> Result<Option<Pending<T, Open>>, ErrorData> {
        match self.manager.create_or_join(ctx, spec).await {
            Ok(Joined::Declined(_)) => Ok(None),
            Ok(joined) => Ok(joined.into_open()),
            Err(e @ (Error::Capacity(_) | Error::RateLimited { .. })) => {
                tracing::info!(target: "oob", error = %e, "an MCP caller is at capacity");
                Err(ErrorData::invalid_request(e.to_string(), None))
            }
            Err(e) => Err(internal(e)),
        }
    }

    pub(super) async fn load<Val>(
        &self,
        caller: &NamespaceToken<'_>,
        key: &str,
    ) -> Result<Option<Val>, ErrorData>
    where
        V: Vault<Val>,
    {
        self.vault.get(caller, key).await.map_err(internal)
    }
}
