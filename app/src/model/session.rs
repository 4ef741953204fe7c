//! Brew sessions: a recipe compiled into the steps a device runs (mash steps, boil with hop additions
//! as alerts, cooling, fermentation steps), checked against what the device can do, with the expected
//! duration of each step; and the session as it runs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    recipe::{HopUse, RecipeBody, RecipeNumbers},
    telemetry::Capabilities,
};

/// What a step does on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Mash,
    Boil,
    Cool,
    Ferment,
}

/// A moment within a step's hold at which the brewer is alerted (a hop addition).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlannedAlert {
    /// Seconds after the hold started.
    pub at_s: u32,
    pub message: String,
}

/// One step of the program, with how long it is expected to take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlannedStep {
    pub kind: StepKind,
    pub name: String,
    pub target_temp_c: f64,
    /// How long the target is held, seconds.
    pub hold_s: u32,
    /// Expected time to reach the target from the previous step's temperature, seconds.
    pub ramp_s: u32,
    pub alerts: Vec<PlannedAlert>,
}

impl PlannedStep {
    /// Expected duration: reaching the target, then holding it.
    pub fn expected_s(&self) -> u64 {
        u64::from(self.ramp_s) + u64::from(self.hold_s)
    }
}

/// Where the wort starts: tap water.
const START_TEMP_C: f64 = 20.0;
/// Boiling, at sea level.
const BOIL_TEMP_C: f64 = 100.0;
/// Energy to warm one litre of wort by one degree, joules (water's 4186 J/(kg·K)).
const JOULES_PER_LITRE_KELVIN: f64 = 4186.0;
/// Cooling the wort with a chiller, degrees per minute (an assumption of the estimate).
const COOLING_C_PER_MIN: f64 = 1.0;
/// Changing the fermenter's temperature, degrees per hour (an assumption of the estimate).
const FERMENTER_C_PER_HOUR: f64 = 1.0;

/// Compiles a recipe into the device's steps, or says every reason the device cannot run it.
pub fn plan(recipe: &RecipeBody, device: &Capabilities) -> Result<Vec<PlannedStep>, Vec<String>> {
    let mut steps = Vec::new();
    for (index, step) in recipe.mash_steps.iter().enumerate() {
        steps.push(PlannedStep {
            kind: StepKind::Mash,
            name: if step.name.trim().is_empty() {
                format!("Mash step {}", index + 1)
            } else {
                step.name.clone()
            },
            target_temp_c: step.temp_c,
            hold_s: minutes(step.duration_min),
            ramp_s: 0,
            alerts: Vec::new(),
        });
    }
    if recipe.boil_time_min > 0.0 {
        let boil_s = minutes(recipe.boil_time_min);
        let mut alerts: Vec<PlannedAlert> = recipe
            .hops
            .iter()
            .filter(|hop| hop.use_ != HopUse::DryHop)
            .map(|hop| match hop.use_ {
                HopUse::Whirlpool => PlannedAlert {
                    at_s: boil_s,
                    message: format!(
                        "Whirlpool: add {:.0} g {} and steep {:.0} min",
                        hop.amount_g, hop.name, hop.time_min
                    ),
                },
                _ => PlannedAlert {
                    at_s: boil_s.saturating_sub(minutes(hop.time_min)),
                    message: format!(
                        "Add {:.0} g {} ({:.0} min)",
                        hop.amount_g, hop.name, hop.time_min
                    ),
                },
            })
            .collect();
        alerts.sort_by_key(|alert| alert.at_s);
        steps.push(PlannedStep {
            kind: StepKind::Boil,
            name: "Boil".to_string(),
            target_temp_c: BOIL_TEMP_C,
            hold_s: boil_s,
            ramp_s: 0,
            alerts,
        });
    }
    let pitch_c = recipe
        .fermentation_steps
        .first()
        .map(|step| step.temp_c)
        .or_else(|| {
            recipe
                .yeasts
                .first()
                .map(|yeast| (yeast.temp_min_c + yeast.temp_max_c) / 2.0)
        })
        .unwrap_or(START_TEMP_C);
    if !steps.is_empty() {
        steps.push(PlannedStep {
            kind: StepKind::Cool,
            name: "Cool to pitching temperature".to_string(),
            target_temp_c: pitch_c,
            hold_s: 0,
            ramp_s: 0,
            alerts: Vec::new(),
        });
    }
    let last_ferment = recipe.fermentation_steps.len().checked_sub(1);
    for (index, step) in recipe.fermentation_steps.iter().enumerate() {
        let hold_s = days(step.days);
        let alerts = if Some(index) == last_ferment {
            recipe
                .hops
                .iter()
                .filter(|hop| hop.use_ == HopUse::DryHop)
                .map(|hop| PlannedAlert {
                    at_s: hold_s.saturating_sub(minutes(hop.time_min)),
                    message: format!("Dry hop: add {:.0} g {}", hop.amount_g, hop.name),
                })
                .collect()
        } else {
            Vec::new()
        };
        steps.push(PlannedStep {
            kind: StepKind::Ferment,
            name: if step.name.trim().is_empty() {
                format!("Fermentation step {}", index + 1)
            } else {
                step.name.clone()
            },
            target_temp_c: step.temp_c,
            hold_s,
            ramp_s: 0,
            alerts,
        });
    }

    let refusals = check(recipe, device, &steps);
    if !refusals.is_empty() {
        return Err(refusals);
    }
    estimate_ramps(
        &mut steps,
        recipe.boil_size_l.max(recipe.batch_size_l),
        device.heater_w,
    );
    Ok(steps)
}

/// Every reason the device cannot run these steps.
fn check(recipe: &RecipeBody, device: &Capabilities, steps: &[PlannedStep]) -> Vec<String> {
    let mut refusals = Vec::new();
    if steps.is_empty() {
        refusals.push(
            "The recipe has nothing to run: add mash steps, a boil or fermentation steps."
                .to_string(),
        );
    }
    if device.max_temp_c <= 0.0 && device.max_volume_l <= 0.0 {
        refusals.push(
            "The device has not reported what it can do yet: connect it and try again.".to_string(),
        );
        return refusals;
    }
    for step in steps {
        if step.target_temp_c > device.max_temp_c {
            refusals.push(format!(
                "{} needs {:.1} °C; the device reaches at most {:.1} °C.",
                step.name, step.target_temp_c, device.max_temp_c
            ));
        }
    }
    let kettle_l = recipe.boil_size_l.max(recipe.batch_size_l);
    if kettle_l > device.max_volume_l {
        refusals.push(format!(
            "The recipe needs {kettle_l:.1} l in the kettle; the device holds at most {:.1} l.",
            device.max_volume_l
        ));
    }
    let heats = steps
        .iter()
        .any(|step| matches!(step.kind, StepKind::Mash | StepKind::Boil));
    if heats && device.heater_w <= 0.0 {
        refusals.push("The device has no heater, so it cannot mash or boil.".to_string());
    }
    if steps.iter().any(|step| step.kind == StepKind::Ferment) && !device.fermentation {
        refusals.push(
            "The device cannot hold fermentation temperatures: remove the fermentation steps to run \
             this recipe on it."
                .to_string(),
        );
    }
    refusals
}

/// Heating: the energy to warm the wort over the heater's power; cooling and fermenter changes at the
/// assumed rates.
fn estimate_ramps(steps: &mut [PlannedStep], litres: f64, heater_w: f64) {
    let mut temperature = START_TEMP_C;
    for step in steps {
        let delta = step.target_temp_c - temperature;
        let seconds = match step.kind {
            StepKind::Mash | StepKind::Boil if delta > 0.0 && heater_w > 0.0 => {
                litres * JOULES_PER_LITRE_KELVIN * delta / heater_w
            }
            StepKind::Ferment => delta.abs() / FERMENTER_C_PER_HOUR * 3600.0,
            _ if delta < 0.0 => -delta / COOLING_C_PER_MIN * 60.0,
            _ => 0.0,
        };
        step.ramp_s = seconds.round().clamp(0.0, f64::from(u32::MAX)) as u32;
        temperature = step.target_temp_c;
    }
}

fn minutes(value: f64) -> u32 {
    (value.max(0.0) * 60.0).round().min(f64::from(u32::MAX)) as u32
}

fn days(value: f64) -> u32 {
    (value.max(0.0) * 86_400.0).round().min(f64::from(u32::MAX)) as u32
}

/// Where a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    Running,
    Paused,
    Completed,
    Aborted,
}

impl SessionState {
    pub fn parse(text: &str) -> Self {
        match text {
            "paused" => Self::Paused,
            "completed" => Self::Completed,
            "aborted" => Self::Aborted,
            _ => Self::Running,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Aborted => "aborted",
        }
    }

    /// Still on the device.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Running | Self::Paused)
    }
}

/// Where one step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    /// Heating or cooling towards the target.
    Reaching,
    /// At the target; the hold timer runs.
    Holding,
    Done,
}

/// A step of a running session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionStep {
    #[serde(flatten)]
    pub planned: PlannedStep,
    pub status: StepStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub holding_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A progress event the device sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionEvent {
    pub at: DateTime<Utc>,
    /// `step_started`, `step_holding`, `step_finished`, `alert`, `paused`, `resumed`, `aborted`,
    /// `completed`.
    pub kind: String,
    pub step_index: u32,
    pub remaining_s: u32,
    pub message: String,
}

/// A brewer's note, pinned to the step that ran when it was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionNote {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub step_index: Option<u32>,
    pub text: String,
}

/// A brew session as the API and the session page show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BrewSession {
    pub id: String,
    pub device_id: String,
    /// The recipe it came from, if it still exists.
    pub recipe_id: Option<String>,
    /// The recipe as it was when the session started.
    pub recipe: RecipeBody,
    /// The recipe's computed numbers.
    pub expected: RecipeNumbers,
    pub state: SessionState,
    /// Why it was aborted.
    pub reason: String,
    pub steps: Vec<SessionStep>,
    /// The step running now, while the session is active.
    pub current_step: Option<u32>,
    /// Seconds left in the current step's hold at `remaining_at`.
    pub remaining_s: Option<u32>,
    pub remaining_at: Option<DateTime<Utc>>,
    pub events: Vec<SessionEvent>,
    pub notes: Vec<SessionNote>,
    pub measured_og: Option<f64>,
    pub measured_fg: Option<f64>,
    /// From the measured gravities, when both are known.
    pub measured_abv_pct: Option<f64>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// The steps of a session as its events moved them.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub steps: Vec<SessionStep>,
    /// The step running now.
    pub current_step: Option<u32>,
    /// Seconds left in the current step's hold, as of the time given.
    pub remaining: Option<(u32, DateTime<Utc>)>,
}

impl BrewSession {
    /// Builds the timeline from the planned steps and the device's events, in order.
    pub fn timeline(planned: Vec<PlannedStep>, events: &[SessionEvent]) -> Timeline {
        let mut steps: Vec<SessionStep> = planned
            .into_iter()
            .map(|planned| SessionStep {
                planned,
                status: StepStatus::Pending,
                started_at: None,
                holding_at: None,
                finished_at: None,
            })
            .collect();
        let mut current = None;
        let mut remaining = None;
        for event in events {
            let Some(step) = steps.get_mut(event.step_index as usize) else {
                continue;
            };
            match event.kind.as_str() {
                "step_started" => {
                    step.status = StepStatus::Reaching;
                    step.started_at.get_or_insert(event.at);
                    current = Some(event.step_index);
                    remaining = None;
                }
                "step_holding" => {
                    step.status = StepStatus::Holding;
                    step.holding_at.get_or_insert(event.at);
                    current = Some(event.step_index);
                    remaining = Some((event.remaining_s, event.at));
                }
                "step_finished" => {
                    step.status = StepStatus::Done;
                    step.finished_at.get_or_insert(event.at);
                    remaining = None;
                }
                "timer" | "paused" | "resumed" if step.status == StepStatus::Holding => {
                    remaining = Some((event.remaining_s, event.at));
                }
                "completed" => current = None,
                _ => {}
            }
        }
        Timeline {
            steps,
            current_step: current,
            remaining,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::recipe::{FermentationStep, Hop, MashStep};

    fn kettle() -> Capabilities {
        Capabilities {
            max_temp_c: 105.0,
            max_volume_l: 50.0,
            heater_w: 3500.0,
            pump: true,
            fermentation: true,
            gpio_pins: 16,
            uart: true,
        }
    }

    fn recipe() -> RecipeBody {
        RecipeBody {
            name: "Pils".into(),
            batch_size_l: 20.0,
            boil_size_l: 25.0,
            boil_time_min: 60.0,
            mash_steps: vec![
                MashStep {
                    name: "Protein rest".into(),
                    temp_c: 52.0,
                    duration_min: 10.0,
                    ..MashStep::default()
                },
                MashStep {
                    name: "Saccharification".into(),
                    temp_c: 66.0,
                    duration_min: 60.0,
                    ..MashStep::default()
                },
            ],
            hops: vec![
                Hop {
                    name: "Saaz".into(),
                    amount_g: 40.0,
                    time_min: 60.0,
                    use_: HopUse::Boil,
                    ..Hop::default()
                },
                Hop {
                    name: "Saaz".into(),
                    amount_g: 20.0,
                    time_min: 10.0,
                    use_: HopUse::Boil,
                    ..Hop::default()
                },
                Hop {
                    name: "Citra".into(),
                    amount_g: 50.0,
                    time_min: 4320.0,
                    use_: HopUse::DryHop,
                    ..Hop::default()
                },
            ],
            fermentation_steps: vec![FermentationStep {
                name: "Primary".into(),
                temp_c: 10.0,
                days: 14.0,
            }],
            ..RecipeBody::default()
        }
    }

    #[test]
    fn a_recipe_compiles_into_mash_boil_cool_and_fermentation() {
        let steps = plan(&recipe(), &kettle()).unwrap();
        let kinds: Vec<StepKind> = steps.iter().map(|step| step.kind).collect();
        assert_eq!(
            kinds,
            [
                StepKind::Mash,
                StepKind::Mash,
                StepKind::Boil,
                StepKind::Cool,
                StepKind::Ferment
            ]
        );
        let boil = &steps[2];
        assert_eq!(boil.hold_s, 3600);
        let at: Vec<u32> = boil.alerts.iter().map(|alert| alert.at_s).collect();
        assert_eq!(
            at,
            [0, 3000],
            "hop additions at 60 and 10 minutes before the end"
        );
        assert_eq!(
            steps[3].target_temp_c, 10.0,
            "cooled to the first fermentation temperature"
        );
        let ferment = &steps[4];
        assert_eq!(ferment.hold_s, 14 * 86_400);
        assert_eq!(
            ferment.alerts[0].at_s,
            14 * 86_400 - 4320 * 60,
            "dry hop 3 days before the end"
        );
        // 25 l from 20 °C to 52 °C at 3500 W: 25 x 4186 x 32 / 3500 = 957 s.
        assert_eq!(steps[0].ramp_s, 957);
        // Cooling 100 -> 10 °C at 1 °C a minute.
        assert_eq!(steps[3].ramp_s, 90 * 60);
        // 25 l from 52 °C to 66 °C: 418.6 s, then the 60-minute hold.
        assert_eq!(steps[1].expected_s(), 419 + 3600);
    }

    #[test]
    fn an_impossible_recipe_is_refused_with_every_reason() {
        let small = Capabilities {
            max_temp_c: 80.0,
            max_volume_l: 10.0,
            heater_w: 1000.0,
            fermentation: false,
            ..kettle()
        };
        let refusals = plan(&recipe(), &small).unwrap_err();
        assert!(
            refusals
                .iter()
                .any(|r| r.contains("Boil needs 100.0 °C") && r.contains("80.0 °C")),
            "{refusals:?}"
        );
        assert!(
            refusals
                .iter()
                .any(|r| r.contains("25.0 l") && r.contains("10.0 l")),
            "{refusals:?}"
        );
        assert!(
            refusals.iter().any(|r| r.contains("fermentation")),
            "{refusals:?}"
        );
        let unknown = plan(&recipe(), &Capabilities::default()).unwrap_err();
        assert!(unknown[0].contains("not reported"), "{unknown:?}");
        let empty = RecipeBody {
            boil_time_min: 0.0,
            ..RecipeBody::default()
        };
        assert!(plan(&empty, &kettle()).unwrap_err()[0].contains("nothing to run"));
    }

    #[test]
    fn the_timeline_follows_the_events() {
        let steps = plan(&recipe(), &kettle()).unwrap();
        let at = Utc::now();
        let event = |kind: &str, step_index, remaining_s| SessionEvent {
            at,
            kind: kind.into(),
            step_index,
            remaining_s,
            message: String::new(),
        };
        let events = [
            event("step_started", 0, 0),
            event("step_holding", 0, 600),
            event("step_finished", 0, 0),
            event("step_started", 1, 0),
            event("step_holding", 1, 3600),
            event("timer", 1, 3000),
            event("step_started", 9, 0),
        ];
        let timeline = BrewSession::timeline(steps, &events);
        assert_eq!(timeline.steps[0].status, StepStatus::Done);
        assert_eq!(timeline.steps[1].status, StepStatus::Holding);
        assert_eq!(timeline.steps[2].status, StepStatus::Pending);
        assert_eq!(timeline.current_step, Some(1));
        assert_eq!(timeline.remaining.map(|(seconds, _)| seconds), Some(3000));
    }
}
