//! Brew sessions: a recipe planned for a device (refused with the reasons when the device cannot run
//! it), started as a device program, paused, resumed or aborted by command, moved along by the
//! device's progress events, annotated with notes and measured gravities, exported as one zip.

use std::io::Write;

use app::model::{
    brewing::{Gravity, abv_percent},
    page::Page,
    recipe::{self, RecipeBody},
    session::{self, BrewSession, PlannedStep, SessionEvent, SessionNote, SessionState, StepKind},
    telemetry::CommandRecord,
};
use chrono::Utc;
use proto::v1;
use serde::Serialize;
use serde_json::json;

use super::{
    Origin, ServiceError, Services,
    commands::DeviceCommand,
    devices::Bundle,
    telemetry::{SeriesQuery, series_csv},
};
use crate::{
    auth::Actor,
    formats,
    store::brew_sessions::{SessionEventRecord, SessionRecord},
};

/// A dry run: the steps the device would run and how long they should take.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SessionPlan {
    pub steps: Vec<PlannedStep>,
    /// Expected duration of the whole program, seconds.
    pub total_s: u64,
}

/// What the brewer asks of a running session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionAction {
    Pause,
    Resume,
    Abort,
}

/// Longest note, in characters.
const NOTE_MAX_CHARS: usize = 2000;

fn internal(error: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(error.to_string())
}

/// The device program for planned steps; its id is the session's.
fn program(session_id: &str, steps: &[PlannedStep]) -> v1::Program {
    v1::Program {
        program_id: session_id.to_string(),
        steps: steps
            .iter()
            .map(|step| v1::Step {
                kind: match step.kind {
                    StepKind::Mash => v1::step::Kind::Mash,
                    StepKind::Boil => v1::step::Kind::Boil,
                    StepKind::Cool => v1::step::Kind::Cool,
                    StepKind::Ferment => v1::step::Kind::Ferment,
                }
                .into(),
                name: step.name.clone(),
                target_temp_c: step.target_temp_c as f32,
                duration_s: step.hold_s,
                alerts: step
                    .alerts
                    .iter()
                    .map(|alert| v1::Alert {
                        at_s: alert.at_s,
                        message: alert.message.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The session state a progress event moves to, if any.
fn state_after(kind: &str) -> Option<&'static str> {
    match kind {
        "paused" => Some("paused"),
        "resumed" => Some("running"),
        "aborted" => Some("aborted"),
        "completed" => Some("completed"),
        _ => None,
    }
}

impl Services {
    /// The steps a recipe would run on one of the caller's devices, or every reason it cannot.
    pub async fn plan_session(
        &self,
        actor: &Actor,
        device_id: &str,
        recipe_id: &str,
    ) -> Result<(RecipeBody, SessionPlan), ServiceError> {
        self.owned_device(actor, device_id).await?;
        let recipe = self
            .recipe(actor, recipe_id)
            .await
            .map_err(|error| match error {
                ServiceError::NotFound => {
                    ServiceError::field("recipe_id", "There is no such recipe.")
                }
                other => other,
            })?;
        let status = self.device_status(actor, device_id).await?;
        let steps = session::plan(&recipe.body, &status.capabilities).map_err(|reasons| {
            ServiceError::Conflict {
                code: "recipe_impossible",
                message: reasons.join(" "),
            }
        })?;
        let total_s = steps.iter().map(PlannedStep::expected_s).sum();
        Ok((recipe.body, SessionPlan { steps, total_s }))
    }

    /// Starts a recipe on one of the caller's devices: planned, checked, recorded, then sent.
    pub async fn start_session(
        &self,
        actor: &Actor,
        device_id: &str,
        recipe_id: &str,
        origin: &Origin,
    ) -> Result<BrewSession, ServiceError> {
        let user = actor.require_user()?;
        let (body, plan) = self.plan_session(actor, device_id, recipe_id).await?;
        if let Some(running) = self.store.brew_session_active_on(device_id).await? {
            return Err(ServiceError::Conflict {
                code: "session_running",
                message: format!(
                    "The device already runs brew session {}: abort it first.",
                    running.id
                ),
            });
        }
        let id = uuid::Uuid::now_v7().to_string();
        // Recorded before the program is sent: the device's first events may come before its reply.
        let record = SessionRecord {
            id: id.clone(),
            owner_id: user.id.clone(),
            device_id: device_id.to_string(),
            recipe_id: Some(recipe_id.to_string()),
            recipe: serde_json::to_string(&body).map_err(internal)?,
            steps: serde_json::to_string(&plan.steps).map_err(internal)?,
            state: SessionState::Running.as_str().to_string(),
            reason: String::new(),
            measured_og: None,
            measured_fg: None,
            started_at: Utc::now(),
            ended_at: None,
        };
        match self.store.brew_session_insert(&record).await {
            Ok(()) => {}
            // Another start won the race for this device (one active session per device).
            Err(crate::store::StoreError::Conflict) => {
                return Err(ServiceError::Conflict {
                    code: "session_running",
                    message: "The device already runs a brew session: abort it first.".to_string(),
                });
            }
            Err(error) => return Err(error.into()),
        }
        let command = DeviceCommand::ProgramStart {
            program: program(&id, &plan.steps),
        };
        if let Err(error) = self.send_command(actor, device_id, command, origin).await {
            let reason = format!("The device did not start the program: {error}");
            self.store
                .brew_session_set_state(&id, "aborted", &reason, Some(Utc::now()))
                .await?;
            return Err(error);
        }
        self.audit(
            actor,
            "session.started",
            format!("device:{device_id}"),
            json!({ "session": id, "recipe": recipe_id }),
            origin,
        )
        .await;
        self.brew_session(actor, &id).await
    }

    async fn session_record(&self, actor: &Actor, id: &str) -> Result<SessionRecord, ServiceError> {
        actor.require_user()?;
        match self.store.brew_session(id).await? {
            Some(record) if actor.may_access_owned_by(&record.owner_id) => Ok(record),
            _ => Err(ServiceError::NotFound),
        }
    }

    async fn owned_session(&self, actor: &Actor, id: &str) -> Result<SessionRecord, ServiceError> {
        let record = self.session_record(actor, id).await?;
        match actor {
            Actor::User(user) if user.id == record.owner_id => Ok(record),
            _ => Err(ServiceError::Forbidden),
        }
    }

    /// A session with its timeline, events and notes.
    pub async fn brew_session(&self, actor: &Actor, id: &str) -> Result<BrewSession, ServiceError> {
        let record = self.session_record(actor, id).await?;
        self.assemble(record).await
    }

    async fn assemble(&self, record: SessionRecord) -> Result<BrewSession, ServiceError> {
        let recipe: RecipeBody = serde_json::from_str(&record.recipe).map_err(internal)?;
        let planned: Vec<PlannedStep> = serde_json::from_str(&record.steps).map_err(internal)?;
        let events: Vec<SessionEvent> = self
            .store
            .brew_session_events(&record.id)
            .await?
            .into_iter()
            .map(|event| SessionEvent {
                at: event.at,
                kind: event.kind,
                step_index: event.step_index,
                remaining_s: event.remaining_s,
                message: event.message,
            })
            .collect();
        let notes = self
            .store
            .brew_session_notes(&record.id)
            .await?
            .into_iter()
            .map(|note| SessionNote {
                id: note.id,
                at: note.at,
                step_index: note.step_index,
                text: note.text,
            })
            .collect();
        let state = SessionState::parse(&record.state);
        let timeline = BrewSession::timeline(planned, &events);
        let recipe_id = match record.recipe_id {
            Some(id) if self.store.recipe_by_id(&id).await?.is_some() => Some(id),
            _ => None,
        };
        let measured_abv_pct = match (record.measured_og, record.measured_fg) {
            (Some(og), Some(fg)) => Gravity::new(og)
                .and_then(|og| Gravity::new(fg).and_then(|fg| abv_percent(og, fg)))
                .ok()
                .map(|abv| (abv * 10.0).round() / 10.0),
            _ => None,
        };
        Ok(BrewSession {
            id: record.id,
            device_id: record.device_id,
            recipe_id,
            expected: recipe::compute(&recipe),
            recipe,
            state,
            reason: record.reason,
            current_step: timeline.current_step.filter(|_| state.is_active()),
            remaining_s: timeline.remaining.map(|(seconds, _)| seconds),
            remaining_at: timeline.remaining.map(|(_, at)| at),
            steps: timeline.steps,
            events,
            notes,
            measured_og: record.measured_og,
            measured_fg: record.measured_fg,
            measured_abv_pct,
            started_at: record.started_at,
            ended_at: record.ended_at,
        })
    }

    /// The caller's sessions, newest first, one page.
    pub async fn list_sessions(
        &self,
        actor: &Actor,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<BrewSession>, ServiceError> {
        let user = actor.require_user()?;
        let (records, next) = self
            .store
            .brew_sessions_of_owner(&user.id, cursor, limit)
            .await?;
        let mut items = Vec::with_capacity(records.len());
        for record in records {
            items.push(self.assemble(record).await?);
        }
        Ok(Page {
            items,
            next_cursor: next,
        })
    }

    /// Pauses, resumes or aborts a running session on its device.
    pub async fn control_session(
        &self,
        actor: &Actor,
        id: &str,
        action: SessionAction,
        origin: &Origin,
    ) -> Result<BrewSession, ServiceError> {
        let record = self.owned_session(actor, id).await?;
        let state = SessionState::parse(&record.state);
        if !state.is_active() {
            return Err(ServiceError::Conflict {
                code: "session_ended",
                message: format!("The session is {}; it no longer runs.", state.as_str()),
            });
        }
        let program_id = record.id.clone();
        let command = match action {
            SessionAction::Pause => DeviceCommand::ProgramPause { program_id },
            SessionAction::Resume => DeviceCommand::ProgramResume { program_id },
            SessionAction::Abort => DeviceCommand::ProgramAbort { program_id },
        };
        match self
            .send_command(actor, &record.device_id, command, origin)
            .await
        {
            Ok(_) => {}
            // An abort ends the session even when the device cannot be told (offline, silent, gone,
            // or it lost the program): otherwise the session, and the device, would stay blocked.
            Err(
                error @ (ServiceError::DeviceOffline
                | ServiceError::DeviceTimeout
                | ServiceError::NotFound
                | ServiceError::DeviceRefused(_)),
            ) if action == SessionAction::Abort => {
                tracing::info!(session = id, %error, "aborting a session the device could not be told about");
            }
            Err(error) => return Err(error),
        }
        let (new_state, ended) = match action {
            SessionAction::Pause => ("paused", None),
            SessionAction::Resume => ("running", None),
            SessionAction::Abort => ("aborted", Some(Utc::now())),
        };
        let reason = if action == SessionAction::Abort {
            "Aborted by the brewer."
        } else {
            ""
        };
        self.store
            .brew_session_set_state(id, new_state, reason, ended)
            .await?;
        self.audit(
            actor,
            &format!("session.{new_state}"),
            format!("device:{}", record.device_id),
            json!({ "session": id }),
            origin,
        )
        .await;
        self.brew_session(actor, id).await
    }

    /// Pins a note to the step running now.
    pub async fn add_session_note(
        &self,
        actor: &Actor,
        id: &str,
        text: &str,
    ) -> Result<BrewSession, ServiceError> {
        self.owned_session(actor, id).await?;
        let text = text.trim();
        if text.is_empty() || text.chars().count() > NOTE_MAX_CHARS {
            return Err(ServiceError::field(
                "text",
                format!("Write 1 to {NOTE_MAX_CHARS} characters."),
            ));
        }
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(ServiceError::field(
                "text",
                "Use no control characters but line breaks and tabs.",
            ));
        }
        let current = self.brew_session(actor, id).await?.current_step;
        self.store
            .brew_session_note_add(id, Utc::now(), current, text)
            .await?;
        self.brew_session(actor, id).await
    }

    /// Records the measured original and final gravity (either may be cleared with `None`).
    pub async fn set_session_gravity(
        &self,
        actor: &Actor,
        id: &str,
        og: Option<f64>,
        fg: Option<f64>,
    ) -> Result<BrewSession, ServiceError> {
        self.owned_session(actor, id).await?;
        let check = |field: &'static str, value: Option<f64>| {
            value
                .map(|value| {
                    Gravity::new(value)
                        .map_err(|error| ServiceError::field(field, error.to_string()))
                })
                .transpose()
        };
        let (og_checked, fg_checked) = (check("measured_og", og)?, check("measured_fg", fg)?);
        if let (Some(og), Some(fg)) = (og_checked, fg_checked)
            && fg > og
        {
            return Err(ServiceError::field(
                "measured_fg",
                "The final gravity must not be above the original gravity.",
            ));
        }
        self.store.brew_session_set_measured(id, og, fg).await?;
        self.brew_session(actor, id).await
    }

    /// One zip: the recipe snapshot (BeerJSON), the session as JSON, the device's commands and
    /// telemetry during the session (CSV), and the notes (CSV).
    pub async fn export_session(&self, actor: &Actor, id: &str) -> Result<Bundle, ServiceError> {
        let session = self.brew_session(actor, id).await?;
        let to = session.ended_at.unwrap_or_else(Utc::now);
        let from = session.started_at;
        let series = self
            .telemetry_series(
                actor,
                &session.device_id,
                SeriesQuery {
                    from: Some(from),
                    to: Some(to.max(from + chrono::Duration::seconds(1))),
                    bucket_s: None,
                },
            )
            .await?;
        let mut commands: Vec<CommandRecord> = Vec::new();
        let mut before: Option<String> = None;
        loop {
            let (page, next) = self
                .store
                .commands_of_device(&session.device_id, before.as_deref(), 500)
                .await?;
            let past_start = page.iter().any(|command| command.created_at < from);
            commands.extend(
                page.into_iter()
                    .filter(|command| command.created_at >= from && command.created_at <= to),
            );
            match next {
                Some(next) if !past_start => before = Some(next),
                _ => break,
            }
        }
        commands.reverse();
        let recipe = formats::beerjson::export(&[&session.recipe], "");
        let files = [
            (
                "recipe.beerjson.json",
                serde_json::to_vec_pretty(&recipe).map_err(internal)?,
            ),
            (
                "session.json",
                serde_json::to_vec_pretty(&session).map_err(internal)?,
            ),
            ("commands.csv", commands_csv(&commands).map_err(internal)?),
            ("telemetry.csv", series_csv(&series).into_bytes()),
            ("notes.csv", notes_csv(&session).map_err(internal)?),
        ];
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in files {
            zip.start_file(name, options).map_err(internal)?;
            zip.write_all(&bytes).map_err(internal)?;
        }
        let bytes = zip.finish().map_err(internal)?.into_inner();
        Ok(Bundle {
            file_name: format!(
                "session-{}-{}.zip",
                super::recipes::file_name(&session.recipe.name),
                session.started_at.format("%Y%m%d")
            ),
            bytes,
        })
    }
}

/// The session's commands as CSV; text cells are made [spreadsheet-safe](crate::formats::spreadsheet_cell).
fn commands_csv(commands: &[CommandRecord]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "id",
        "at",
        "actor",
        "kind",
        "request",
        "outcome",
        "result",
        "latency_ms",
    ])?;
    for command in commands {
        writer.write_record([
            command.id.clone(),
            command.created_at.to_rfc3339(),
            formats::spreadsheet_cell(&command.actor),
            formats::spreadsheet_cell(&command.kind),
            formats::spreadsheet_cell(&command.request.to_string()),
            formats::spreadsheet_cell(&command.outcome),
            formats::spreadsheet_cell(
                &command
                    .result
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ),
            command
                .latency_ms
                .map(|ms| ms.to_string())
                .unwrap_or_default(),
        ])?;
    }
    writer
        .into_inner()
        .map_err(|error| error.into_error().into())
}

/// The session's notes as CSV; step names come from imported recipe files and notes from the
/// brewer, so both are made [spreadsheet-safe](crate::formats::spreadsheet_cell).
fn notes_csv(session: &BrewSession) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["at", "step", "text"])?;
    for note in &session.notes {
        let step = note
            .step_index
            .and_then(|index| session.steps.get(index as usize))
            .map(|step| step.planned.name.clone())
            .unwrap_or_default();
        writer.write_record([
            note.at.to_rfc3339(),
            formats::spreadsheet_cell(&step),
            formats::spreadsheet_cell(&note.text),
        ])?;
    }
    writer
        .into_inner()
        .map_err(|error| error.into_error().into())
}

/// Records a device's program progress event against its session (the program id is the session's);
/// events of programs the device does not run for us are ignored. Timer ticks are not stored.
pub async fn record_progress(
    store: &crate::store::Store,
    device_id: &str,
    event: &v1::ProgramEvent,
) -> Result<bool, crate::store::StoreError> {
    let kind = event
        .kind()
        .as_str_name()
        .trim_start_matches("KIND_")
        .to_ascii_lowercase();
    if kind == "timer" || kind == "unspecified" {
        return Ok(false);
    }
    let at = chrono::DateTime::from_timestamp_millis(event.time_ms)
        .filter(|at| (*at - Utc::now()).num_hours().abs() < 24)
        .unwrap_or_else(Utc::now);
    let record = SessionEventRecord {
        at,
        kind: kind.clone(),
        step_index: event.step_index,
        remaining_s: event.remaining_s,
        message: event.message.clone(),
    };
    store
        .brew_session_event_add(&event.program_id, device_id, &record, state_after(&kind))
        .await
}
