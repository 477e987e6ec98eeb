//! Revision 2026-07-28: the retry of a call answered `input_required`, which carries the
//! sealed `requestState` and the user's `inputResponses`, and asking (again).
//!
//! A call's state is settled once, by the first gate of the glue that sealed it (the state
//! seals the pendings' kind) whose need it names: its pendings all completed, the state is
//! used up in the guard and the [`ToolCall`] remembers it, so the call's other gates go on
//! as without a state (the vault, else a new round for their own need).

use std::time::{Duration, SystemTime};

use ::rmcp::model::{CallToolResponse, ErrorData};
use ::rmcp::service::{RequestContext, RoleServer};

use super::call::{Settled, Wants};
use super::respond::{
    failure_result, finished_result, guard_error, internal, missing_capability, modes_of, policy,
    revision_of, to_input_required_result,
};
use super::{Gate, OobTools, ToolCall};
use crate::capability::NamespaceToken;
use crate::id::PendingId;
use crate::manager::Outcome;
use crate::mcp::state::claimed_kind;
use crate::mcp::{
    ElicitationModes, InputRequired, OpenedState, Resume, Revision, StateError, resume,
};
use crate::namespace::Namespace;
use crate::payload::OobPayload;
use crate::pending::Pending;
use crate::provider::NamespaceProvider;
use crate::state::{Completed, Open};
use crate::store::{Finished, Store};

/// What a call's `requestState` decided for one gate.
enum Round {
    /// Its pendings all completed and it is used up now: go on.
    Settled(Settled),
    /// Answer this (asked again; declined, cancelled, expired, gone).
    Respond(CallToolResponse),
    /// Not this gate's to settle (another glue's state, or open pendings of other needs).
    Skip,
}

impl<T, S, P, V> OobTools<T, S, P, V>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
    P: NamespaceProvider<RequestContext<RoleServer>>,
{
    /// Settles the `requestState` of `call`, once per call: `Some` is the answer to give
    /// now; `None`, go on (no state, settled by this or an earlier gate of the call, or not
    /// this gate's).
    pub(super) async fn settle(
        &self,
        ctx: &RequestContext<RoleServer>,
        caller: &NamespaceToken<'_>,
        call: &ToolCall,
        wants: Wants<'_>,
        message: &str,
    ) -> Result<Option<CallToolResponse>, ErrorData> {
        let Some(state) = call.request_state() else {
            return Ok(None);
        };
        // Held while this gate settles it: another gate of the call waits, then sees it.
        let mut round = call.round().lock().await;
        if round.is_some() {
            return Ok(None);
        }
        match self.retry(ctx, caller, call, wants, message, state).await? {
            Round::Settled(settled) => {
                *round = Some(settled);
                Ok(None)
            }
            Round::Respond(response) => Ok(Some(response)),
            Round::Skip => Ok(None),
        }
    }

    async fn retry(
        &self,
        ctx: &RequestContext<RoleServer>,
        caller: &NamespaceToken<'_>,
        call: &ToolCall,
        wants: Wants<'_>,
        message: &str,
        state: &str,
    ) -> Result<Round, ErrorData> {
        let namespace = caller.namespace();
        if revision_of(ctx) != Some(Revision::MultiRoundTrip) {
            return Err(ErrorData::invalid_params(
                "requestState is not part of this protocol version",
                None,
            ));
        }
        let binding = call.binding(namespace)?;
        let opened = match self.keys.open(state, &binding, SystemTime::now()) {
            Ok(opened) => opened,
            // A state another glue sealed with keys of its own (for another kind or OAuth
            // provider) fails this glue's signature: that glue's to open, pass over it. The
            // kind is read unverified, which is safe because passing over grants nothing:
            // this gate then goes on as without a state.
            Err(StateError::Signature)
                if claimed_kind(state).is_some_and(|kind| *kind != *self.tag) =>
            {
                return Ok(Round::Skip);
            }
            Err(e) => return Err(rejected(e)),
        };
        // One sealed with the same keys for another glue: pass over it too.
        if opened.kind().is_some_and(|kind| kind != &*self.tag) {
            return Ok(Round::Skip);
        }
        let mut waited = false;
        'round: loop {
            let open = match resume(&self.manager, &opened, namespace)
                .await
                .map_err(internal)?
            {
                Resume::Proceed(done) => return self.use_up(&opened, &done).await,
                Resume::Failed(failure) => return Ok(respond(failure_result(&failure))),
                Resume::StillOpen(open) => open,
            };
            // Another need's pendings: settled by that need's gate, later in the call.
            if !open.iter().any(|p| wants.is(p.alias(), p.resource())) {
                return Ok(Round::Skip);
            }
            let modes = modes_of(ctx);
            if !modes.url() {
                return Err(missing_capability());
            }
            let mut accepted = Vec::new();
            let mut still = Vec::new();
            for p in open {
                let how = match call.action(&input_name::<T>(&opened, p.id(), p.alias())) {
                    Some("decline") => Finished::Declined,
                    Some("cancel") => Finished::Cancelled,
                    Some("accept") => {
                        accepted.push(p.id());
                        still.push(p);
                        continue;
                    }
                    _ => {
                        still.push(p);
                        continue;
                    }
                };
                let ended = if how == Finished::Declined {
                    self.manager.decline(p).await
                } else {
                    self.manager.cancel(p).await
                };
                match ended {
                    Ok(_) => return Ok(respond(finished_result(Some(how)))),
                    // It finished another way first (completed a moment ago): decide again.
                    Err(e) if e.is_client_error() => continue 'round,
                    Err(e) => return Err(internal(e)),
                }
            }
            if waited || accepted.is_empty() {
                return Ok(Round::Respond(
                    self.ask(call, namespace, modes, &still, message)?,
                ));
            }
            // The user agreed to open the URL(s): give the browser step time before asking
            // again, then decide from the pendings' states once more.
            waited = true;
            // A wait too long for an `Instant` (`Duration::MAX`) waits for the outcome alone.
            let until = tokio::time::Instant::now().checked_add(self.accept_wait);
            for id in accepted {
                let left = until.map_or(Duration::MAX, |u| {
                    u.saturating_duration_since(tokio::time::Instant::now())
                });
                // Completed, or decided on the next pass (declined, cancelled, expired).
                let outcome = self.manager.wait(id, left).await.map_err(internal)?;
                if matches!(outcome, Outcome::TimedOut) {
                    break;
                }
            }
        }
    }

    /// Uses up `opened`, whose pendings `done` all completed: refused when it expired in the
    /// meantime (a retry that opened it in time waited for the browser step), so that of
    /// concurrent retries with one state exactly one goes on, whatever the guard's memory.
    async fn use_up(
        &self,
        opened: &OpenedState,
        done: &[Pending<T, Completed>],
    ) -> Result<Round, ErrorData> {
        if opened.expires_at() <= SystemTime::now() {
            return Err(rejected(StateError::Expired));
        }
        self.guard
            .consume_boxed(opened.scope(), opened.nonce(), opened.expires_at())
            .await
            .map_err(guard_error)?;
        let done = done
            .iter()
            .map(|p| {
                let owned = |s: Option<&str>| s.map(str::to_owned);
                (p.kind(), owned(p.alias()), owned(p.resource()))
            })
            .collect();
        Ok(Round::Settled(Settled { done }))
    }

    /// `input_required` for `open`, with a state sealed for the call, the pendings and
    /// their kind.
    pub(super) fn ask(
        &self,
        call: &ToolCall,
        namespace: &Namespace,
        modes: ElicitationModes,
        open: &[Pending<T, Open>],
        message: &str,
    ) -> Result<CallToolResponse, ErrorData> {
        let binding = call.binding(namespace)?;
        let asks = open
            .iter()
            .enumerate()
            .map(|(i, p)| (name_at::<T>(i, p.alias()), p, message.to_owned()));
        let result = InputRequired::for_pendings_of_kind(
            &self.keys,
            &binding,
            Some(&self.tag),
            modes,
            SystemTime::now(),
            asks,
        )
        .map_err(policy)?;
        Ok(CallToolResponse::InputRequired(to_input_required_result(
            &result,
        )?))
    }
}

/// A `requestState` that was refused (`-32602`).
fn rejected(e: StateError) -> ErrorData {
    ErrorData::invalid_params(format!("requestState rejected: {e}"), None)
}

/// The answer inside a gate that answers.
fn respond(gate: Gate<()>) -> Round {
    match gate {
        Gate::Respond(response) => Round::Respond(response),
        // The tool-result helpers only ever answer.
        Gate::Ready(()) => Round::Skip,
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
