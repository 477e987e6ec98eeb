//! Revision 2026-07-28: the retry of a call answered `input_required`, which carries the
//! sealed `requestState` and the user's `inputResponses`, and asking (again).

use std::time::SystemTime;

use ::rmcp::model::{CallToolResponse, ErrorData};
use ::rmcp::service::{RequestContext, RoleServer};

use super::respond::{
    failure_result, guard_error, internal, missing_capability, modes_of, policy, revision_of,
    to_input_required_result,
};
use super::{Gate, OobTools, TOOLS_CALL, ToolCall};
use crate::capability::NamespaceToken;
use crate::id::PendingId;
use crate::manager::Outcome;
use crate::mcp::{
    Binding, ElicitationModes, InputRequired, OpenedState, Resume, Revision, StateError, resume,
};
use crate::namespace::Namespace;
use crate::payload::OobPayload;
use crate::pending::Pending;
use crate::provider::NamespaceProvider;
use crate::state::Open;
use crate::store::{Finished, Store};
use crate::vault::Vault;

impl<T, S, P, V> OobTools<T, S, P, V>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
    P: NamespaceProvider<RequestContext<RoleServer>>,
{
    pub(super) async fn retry<Val>(
        &self,
        ctx: &RequestContext<RoleServer>,
        caller: &NamespaceToken<'_>,
        call: &ToolCall,
        key: &str,
        message: &str,
        state: &str,
    ) -> Result<Gate<Val>, ErrorData>
    where
        V: Vault<Val>,
    {
        let namespace = caller.namespace();
        if revision_of(ctx) != Some(Revision::MultiRoundTrip) {
            return Err(ErrorData::invalid_params(
                "requestState is not part of this protocol version",
                None,
            ));
        }
        let params = call.bound_params();
        let binding = Binding::new(namespace, TOOLS_CALL, &params);
        let opened = self
            .keys
            .open(state, &binding, SystemTime::now())
            .map_err(|e| ErrorData::invalid_params(format!("requestState rejected: {e}"), None))?;
        let mut waited = false;
        loop {
            match resume(&self.manager, &opened, namespace)
                .await
                .map_err(internal)?
            {
                Resume::Proceed(_) => return self.proceed(caller, &opened, key).await,
                Resume::Failed(failure) => return Ok(failure_result(&failure)),
                Resume::StillOpen(open) => {
                    let modes = modes_of(ctx);
                    if !modes.url() {
                        return Err(missing_capability());
                    }
                    let mut accepted = Vec::new();
                    let mut still = Vec::new();
                    for p in open {
                        let name = input_name::<T>(&opened, p.id(), p.alias());
                        match call.action(&name) {
                            Some("decline") => {
                                return self.end(caller, p, Finished::Declined, key).await;
                            }
                            Some("cancel") => {
                                return self.end(caller, p, Finished::Cancelled, key).await;
                            }
                            Some("accept") => accepted.push(p.id()),
                            _ => {}
                        }
                        still.push(p);
                    }
                    if waited || accepted.is_empty() {
                        return self.ask(call, namespace, modes, &still, message);
                    }
                    // The user agreed to open the URL(s): give the browser step time before
                    // asking again, then decide from the pendings' states once more.
                    waited = true;
                    let until = tokio::time::Instant::now() + self.accept_wait;
                    for id in accepted {
                        let left = until.saturating_duration_since(tokio::time::Instant::now());
                        match self.manager.wait(id, left).await.map_err(internal)? {
                            Outcome::Completed(_) => {}
                            Outcome::TimedOut => break,
                            // Decided on the next pass (declined, cancelled, expired, gone).
                            _ => {}
                        }
                    }
                }
            }
        }
    }

    pub(super) async fn proceed<Val>(
        &self,
        caller: &NamespaceToken<'_>,
        opened: &OpenedState,
        key: &str,
    ) -> Result<Gate<Val>, ErrorData>
    where
        V: Vault<Val>,
    {
        // The state is used now, and only now: a retry that is asked again keeps it. One
        // that expired meanwhile (its retry opened it in time, then waited for the browser
        // step) is refused, so that of concurrent retries with one state exactly one goes
        // on, whatever the guard's memory.
        if opened.expires_at() <= SystemTime::now() {
            return Err(ErrorData::invalid_params(
                format!("requestState rejected: {}", StateError::Expired),
                None,
            ));
        }
        self.guard
            .consume_boxed(opened.scope(), opened.nonce(), opened.expires_at())
            .await
            .map_err(guard_error)?;
        self.loaded(caller, key).await
    }

    pub(super) fn ask<Val>(
        &self,
        call: &ToolCall,
        namespace: &Namespace,
        modes: ElicitationModes,
        open: &[Pending<T, Open>],
        message: &str,
    ) -> Result<Gate<Val>, ErrorData> {
        let params = call.bound_params();
        let binding = Binding::new(namespace, TOOLS_CALL, &params);
        let asks = open
            .iter()
            .enumerate()
            .map(|(i, p)| (name_at::<T>(i, p.alias()), p, message.to_owned()));
        let result =
            InputRequired::for_pendings(&self.keys, &binding, modes, SystemTime::now(), asks)
                .map_err(policy)?;
        Ok(Gate::Respond(CallToolResponse::InputRequired(
            to_input_required_result(&result)?,
        )))
    }
}

/// The input request name of the pending at `index` of a round: its alias, else the kind
/// (`kind-<index>` after the first).
fn name_at<T: OobPayload>(index: usize, alias: Option<&str>) -> String {
    match alias {
        Some(alias) if !alias.is_empty() => alias.to_owned(),
        _ if index == 0 => T::KIND.to_owned(),
        _ => format!("{}-{index}", T::KIND),
    }
}

/// The name pending `id` had in the round whose state is `opened` (the state seals the
/// round's ids in order).
fn input_name<T: OobPayload>(opened: &OpenedState, id: PendingId, alias: Option<&str>) -> String {
    let index = opened.ids().iter().position(|&i| i == id).unwrap_or(0);
    name_at::<T>(index, alias)
}
