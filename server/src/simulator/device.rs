//! One simulated brewing controller.

use std::time::{Duration, Instant};

use chrono::Utc;
use proto::{
    Message,
    v1::{self, command::Body, program_event::Kind as EventKind, reply::Result as ReplyResult},
};
use rumqttc::{
    AsyncClient, Event, EventLoop, LastWill, MqttOptions, Packet, QoS, TlsConfiguration, Transport,
};
use tokio_util::sync::CancellationToken;

use super::Bundle;
use crate::backoff::Backoff;

/// How the simulation runs.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Time between two telemetry samples.
    pub interval: Duration,
    /// Simulated seconds per real second (heating and program steps run this much faster).
    pub speed: f64,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            speed: 1.0,
        }
    }
}

const FIRMWARE: &str = "brewlink-simulator 1.0";
const GPIO_PINS: usize = 16;
const AMBIENT_C: f64 = 18.0;
/// Degrees per second at full heater power.
const HEAT_RATE: f64 = 1.0;
/// Share of the difference to ambient lost per second.
const LOSS_RATE: f64 = 0.002;
const ORIGINAL_GRAVITY: f64 = 1.050;
const FINAL_GRAVITY: f64 = 1.010;

/// Why a connection ended.
enum Ended {
    Shutdown,
    Reset,
    /// The connection failed or dropped; `held` when it had been up for [`STABLE_CONNECTION`].
    Dropped {
        reason: String,
        held: bool,
    },
}

/// First reconnect window, and the most a device waits between attempts (full jitter below it).
const RECONNECT_BASE: Duration = Duration::from_millis(500);
const RECONNECT_CAP: Duration = Duration::from_secs(30);
/// A connection up this long counts as good: the next failure starts the back-off afresh.
const STABLE_CONNECTION: Duration = Duration::from_secs(30);
/// How long a device waits for its CONNACK: longer than the broker's own connect timeout (5 s), so
/// that the broker decides (it answers, or refuses as unavailable) and a connect it completes is
/// never one the device gave up on and will repeat.
const CONNACK_WAIT: Duration = Duration::from_secs(15);
/// The pause of a commanded reset before the device comes back.
const REBOOT: Duration = Duration::from_secs(1);

/// Where a program step is.
#[derive(Debug, Clone, PartialEq)]
enum Phase {
    /// Heating or cooling towards the target.
    Reaching,
    /// Holding the target; simulated seconds left and alerts already raised.
    Holding {
        remaining: f64,
        alerts_raised: usize,
        next_timer: f64,
    },
}

struct ProgramRun {
    id: String,
    steps: Vec<v1::Step>,
    index: usize,
    phase: Phase,
    paused: bool,
    /// Whether the first step's start was reported.
    announced: bool,
}

/// A simulated device and its state.
pub struct SimulatedDevice {
    bundle: Bundle,
    tuning: Tuning,
    host: Option<String>,
    temperature: f64,
    setpoint: f64,
    heater_pct: f64,
    gravity: f64,
    gpio: [(bool, v1::GpioMode); GPIO_PINS],
    clock_offset_ms: i64,
    booted: Instant,
    last_seq: u64,
    program: Option<ProgramRun>,
}

impl SimulatedDevice {
    pub fn new(bundle: Bundle, tuning: Tuning, host: Option<String>) -> Self {
        Self {
            bundle,
            tuning,
            host,
            temperature: AMBIENT_C,
            setpoint: AMBIENT_C,
            heater_pct: 0.0,
            gravity: ORIGINAL_GRAVITY,
            gpio: [(false, v1::GpioMode::Input); GPIO_PINS],
            clock_offset_ms: 0,
            booted: Instant::now(),
            last_seq: 0,
            program: None,
        }
    }

    fn id(&self) -> &str {
        &self.bundle.settings.client_id
    }

    fn topic(&self, name: &str) -> String {
        format!("devices/{}/{name}", self.id())
    }

    /// Runs until shutdown, reconnecting after a reset or a dropped connection: with exponential
    /// back-off and full jitter, so that many devices losing the broker at once do not return in
    /// lockstep (a refused connect, "server unavailable" included, backs off the same way).
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut backoff = Backoff::new(RECONNECT_BASE, RECONNECT_CAP);
        loop {
            let pause = match self.session(&shutdown).await {
                Ended::Shutdown => return,
                Ended::Reset => {
                    tracing::info!(device = self.id(), "simulated reset; rebooting");
                    self.booted = Instant::now();
                    self.program = None;
                    self.setpoint = AMBIENT_C;
                    backoff.reset();
                    REBOOT
                }
                Ended::Dropped { reason, held } => {
                    if held {
                        backoff.reset();
                    }
                    let pause = backoff.next_delay();
                    tracing::warn!(
                        device = self.id(),
                        reason,
                        retry_in_ms = pause.as_millis() as u64,
                        "connection lost; retrying"
                    );
                    pause
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    fn options(&self) -> MqttOptions {
        let settings = &self.bundle.settings;
        let host = self
            .host
            .clone()
            .unwrap_or_else(|| settings.broker_host.clone());
        let mut options = MqttOptions::new(settings.client_id.clone(), host, settings.tls_port);
        options
            .set_keep_alive(Duration::from_secs(10))
            .set_clean_session(false);
        options.set_transport(Transport::Tls(TlsConfiguration::Simple {
            ca: self.bundle.ca_pem.as_bytes().to_vec(),
            alpn: None,
            client_auth: Some((
                self.bundle.cert_pem.as_bytes().to_vec(),
                self.bundle.key_pem.as_bytes().to_vec(),
            )),
        }));
        let offline = self.status(false).encode_to_vec();
        options.set_last_will(LastWill::new(
            self.topic("status"),
            offline,
            QoS::AtLeastOnce,
            true,
        ));
        options
    }

    fn status(&self, online: bool) -> v1::Status {
        let id = self.id().as_bytes();
        let byte = |n: usize| {
            id.get(id.len().saturating_sub(n + 1))
                .copied()
                .unwrap_or_default()
        };
        v1::Status {
            online,
            firmware: FIRMWARE.to_string(),
            mac: format!(
                "02:00:{:02x}:{:02x}:{:02x}:{:02x}",
                byte(3),
                byte(2),
                byte(1),
                byte(0)
            ),
            ip: "127.0.0.1".to_string(),
            subnet: "255.0.0.0".to_string(),
            gateway: "127.0.0.1".to_string(),
            uptime_s: self.booted.elapsed().as_secs(),
            report_interval_s: u32::try_from(self.tuning.interval.as_secs().max(1)).unwrap_or(1),
            capabilities: Some(v1::Capabilities {
                max_temp_c: 105.0,
                max_volume_l: 50.0,
                heater_w: 3500.0,
                pump: true,
                fermentation: true,
                gpio_pins: GPIO_PINS as u32,
                uart: true,
            }),
        }
    }

    async fn session(&mut self, shutdown: &CancellationToken) -> Ended {
        let (client, mut events) = AsyncClient::new(self.options(), 256);
        events
            .network_options
            .set_connection_timeout(CONNACK_WAIT.as_secs());
        let mut tick = tokio::time::interval(self.tuning.interval);
        let mut connected = false;
        let mut connected_at = None;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => {
                    // A clean disconnect does not fire the last will: say goodbye first.
                    let _ = client.publish(self.topic("status"), QoS::AtLeastOnce, true, self.status(false).encode_to_vec()).await;
                    let _ = client.disconnect().await;
                    drain(&mut events).await;
                    return Ended::Shutdown;
                }
                event = events.poll() => match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        connected = true;
                        connected_at = Some(Instant::now());
                        tracing::info!(device = self.id(), "simulated device connected");
                        let _ = client.publish(self.topic("status"), QoS::AtLeastOnce, true, self.status(true).encode_to_vec()).await;
                        let _ = client.subscribe(self.topic("cmd"), QoS::AtLeastOnce).await;
                    }
                    Ok(Event::Incoming(Packet::Publish(message))) if message.topic == self.topic("cmd") => {
                        if self.command(&client, &message.payload).await {
                            let _ = client.disconnect().await;
                            drain(&mut events).await;
                            return Ended::Reset;
                        }
                    }
                    Ok(_) => {}
                    Err(error) => return Ended::Dropped {
                        reason: error.to_string(),
                        held: connected_at.is_some_and(|at: Instant| at.elapsed() >= STABLE_CONNECTION),
                    },
                },
                _ = tick.tick(), if connected => {
                    let dt = self.tuning.interval.as_secs_f64() * self.tuning.speed;
                    for event in self.advance(dt) {
                        let _ = client.publish(self.topic("program"), QoS::AtLeastOnce, false, event.encode_to_vec()).await;
                    }
                    let sample = self.sample();
                    let _ = client.publish(self.topic("telemetry"), QoS::AtLeastOnce, false, sample.encode_to_vec()).await;
                }
            }
        }
    }

    fn now_ms(&self) -> i64 {
        Utc::now().timestamp_millis() + self.clock_offset_ms
    }

    /// Heater, temperature, gravity and the running program, `dt` simulated seconds on.
    fn advance(&mut self, dt: f64) -> Vec<v1::ProgramEvent> {
        let events = self.advance_program(dt);
        let error = self.setpoint - self.temperature;
        // Gain high enough that heat loss at a boil leaves less than the 0.5 °C "reached" margin.
        self.heater_pct = (error * 60.0).clamp(0.0, 100.0);
        let cooling = if error < -0.5 {
            (error * 0.05).max(-1.0)
        } else {
            0.0
        };
        self.temperature += dt
            * (self.heater_pct / 100.0 * HEAT_RATE + cooling
                - (self.temperature - AMBIENT_C) * LOSS_RATE);
        if self.fermenting() && self.gravity > FINAL_GRAVITY {
            self.gravity = (self.gravity - dt * 0.00002).max(FINAL_GRAVITY);
        }
        events
    }

    fn current_step(&self) -> Option<&v1::Step> {
        self.program
            .as_ref()
            .filter(|run| !run.paused)
            .and_then(|run| run.steps.get(run.index))
    }

    fn fermenting(&self) -> bool {
        self.current_step()
            .is_some_and(|step| step.kind() == v1::step::Kind::Ferment)
    }

    fn event(
        &self,
        kind: EventKind,
        step_index: usize,
        remaining: f64,
        message: String,
    ) -> v1::ProgramEvent {
        v1::ProgramEvent {
            program_id: self
                .program
                .as_ref()
                .map(|run| run.id.clone())
                .unwrap_or_default(),
            kind: kind.into(),
            step_index: u32::try_from(step_index).unwrap_or_default(),
            remaining_s: remaining.max(0.0).ceil() as u32,
            time_ms: self.now_ms(),
            message,
        }
    }

    fn advance_program(&mut self, dt: f64) -> Vec<v1::ProgramEvent> {
        let mut events = Vec::new();
        let unannounced = self
            .program
            .as_ref()
            .filter(|run| !run.paused && !run.announced)
            .map(|run| run.index);
        if let Some(index) = unannounced {
            events.push(self.event(EventKind::StepStarted, index, 0.0, String::new()));
            if let Some(run) = self.program.as_mut() {
                run.announced = true;
            }
        }
        let temperature = self.temperature;
        let Some(run) = self.program.as_mut().filter(|run| !run.paused) else {
            return events;
        };
        let Some(step) = run.steps.get(run.index).cloned() else {
            return events;
        };

        self.setpoint = f64::from(step.target_temp_c);
        let mut finished = false;
        match &mut run.phase {
            Phase::Reaching => {
                if (temperature - f64::from(step.target_temp_c)).abs() < 0.5 {
                    run.phase = Phase::Holding {
                        remaining: f64::from(step.duration_s),
                        alerts_raised: 0,
                        next_timer: 10.0,
                    };
                    let (index, remaining) = (run.index, f64::from(step.duration_s));
                    events.push(self.event(
                        EventKind::StepHolding,
                        index,
                        remaining,
                        String::new(),
                    ));
                }
            }
            Phase::Holding {
                remaining,
                alerts_raised,
                next_timer,
            } => {
                *remaining -= dt;
                let held = f64::from(step.duration_s) - *remaining;
                let mut raised = Vec::new();
                while let Some(alert) = step
                    .alerts
                    .get(*alerts_raised)
                    .filter(|alert| f64::from(alert.at_s) <= held)
                {
                    raised.push(alert.message.clone());
                    *alerts_raised += 1;
                }
                *next_timer -= dt;
                let timer = *next_timer <= 0.0;
                if timer {
                    *next_timer = 10.0;
                }
                finished = *remaining <= 0.0;
                let (index, left) = (run.index, *remaining);
                for message in raised {
                    events.push(self.event(EventKind::Alert, index, left, message));
                }
                if timer && !finished {
                    events.push(self.event(EventKind::Timer, index, left, String::new()));
                }
            }
        }
        if finished {
            let index = self.program.as_ref().map_or(0, |run| run.index);
            events.push(self.event(EventKind::StepFinished, index, 0.0, String::new()));
            if let Some(run) = self.program.as_mut() {
                run.index += 1;
                run.phase = Phase::Reaching;
                if run.index < run.steps.len() {
                    let next = run.index;
                    events.push(self.event(EventKind::StepStarted, next, 0.0, String::new()));
                } else {
                    events.push(self.event(EventKind::Completed, index, 0.0, String::new()));
                    self.program = None;
                    self.setpoint = AMBIENT_C;
                }
            }
        }
        events
    }

    fn sample(&mut self) -> v1::Telemetry {
        let now = self.now_ms();
        self.last_seq = u64::try_from(now)
            .unwrap_or_default()
            .max(self.last_seq + 1);
        let step = self.current_step().map(v1::Step::kind);
        let temperature = self.temperature as f32;
        v1::Telemetry {
            seq: self.last_seq,
            time_ms: now,
            readings: Some(v1::Readings {
                mash_temp_c: Some(temperature),
                boil_temp_c: (step == Some(v1::step::Kind::Boil)).then_some(temperature),
                fermenter_temp_c: (step == Some(v1::step::Kind::Ferment)).then_some(temperature),
                setpoint_c: Some(self.setpoint as f32),
                heater_pct: Some(self.heater_pct as f32),
                pump_on: Some(self.heater_pct > 0.0 || self.program.is_some()),
                valves: [("inlet".to_string(), self.program.is_some())].into(),
                gravity_sg: Some(self.gravity as f32),
                volume_l: Some(20.0),
                ..Default::default()
            }),
        }
    }

    /// Answers a command; `true` when the device must now reboot.
    async fn command(&mut self, client: &AsyncClient, payload: &[u8]) -> bool {
        let Ok(command) = v1::Command::decode(payload) else {
            tracing::warn!(device = self.id(), "undecodable command");
            return false;
        };
        // The simulated device's clock is set (like one kept by NTP): a late command is ignored.
        let now_ms = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0);
        if command.is_expired(now_ms) {
            tracing::warn!(
                device = self.id(),
                request_id = command.request_id,
                "command past its deadline ignored"
            );
            return false;
        }
        if !command.reply_topic.starts_with(&self.topic("reply/")) {
            tracing::warn!(
                device = self.id(),
                topic = command.reply_topic,
                "reply topic outside the device's own"
            );
            return false;
        }
        let mut reboot = false;
        let result = match command.body {
            Some(Body::GpioGet(get)) => self.pin(get.pin).map(|(value, mode)| {
                ReplyResult::Gpio(v1::GpioState {
                    pin: get.pin,
                    value,
                    mode: mode.into(),
                })
            }),
            Some(Body::GpioSet(set)) => {
                match usize::try_from(set.pin).ok().filter(|pin| *pin < GPIO_PINS) {
                    Some(pin) => {
                        let mode = match set.mode() {
                            v1::GpioMode::Unspecified => self.gpio[pin].1,
                            mode => mode,
                        };
                        self.gpio[pin] = (set.value, mode);
                        Ok(ReplyResult::Gpio(v1::GpioState {
                            pin: set.pin,
                            value: set.value,
                            mode: mode.into(),
                        }))
                    }
                    None => Err(invalid(format!(
                        "pin {} does not exist (0 to {})",
                        set.pin,
                        GPIO_PINS - 1
                    ))),
                }
            }
            Some(Body::RtcGet(_)) => Ok(ReplyResult::Rtc(v1::RtcTime {
                time_ms: self.now_ms(),
            })),
            Some(Body::RtcSet(set)) => {
                self.clock_offset_ms = set.time_ms - Utc::now().timestamp_millis();
                Ok(ReplyResult::Rtc(v1::RtcTime {
                    time_ms: self.now_ms(),
                }))
            }
            Some(Body::NetworkGet(_)) => {
                let status = self.status(true);
                Ok(ReplyResult::Network(v1::NetworkInfo {
                    mac: status.mac,
                    ip: status.ip,
                    subnet: status.subnet,
                    gateway: status.gateway,
                }))
            }
            Some(Body::Reset(_)) => {
                reboot = true;
                Ok(ReplyResult::Ack(v1::Ack {}))
            }
            Some(Body::UartWrite(write)) => {
                Ok(ReplyResult::Uart(v1::UartEcho { data: write.data }))
            }
            Some(Body::ProgramStart(start)) => self.start_program(start.program),
            Some(Body::ProgramPause(pause)) => {
                self.program_control(&pause.program_id, Some(true), false)
            }
            Some(Body::ProgramResume(resume)) => {
                self.program_control(&resume.program_id, Some(false), false)
            }
            Some(Body::ProgramAbort(abort)) => self.program_control(&abort.program_id, None, true),
            None => Err(v1::Error {
                code: v1::error::Code::Unsupported.into(),
                message: "empty command".to_string(),
            }),
        };
        let reply = v1::Reply {
            request_id: command.request_id,
            result: Some(result.unwrap_or_else(ReplyResult::Error)),
        };
        let _ = client
            .publish(
                command.reply_topic,
                QoS::AtLeastOnce,
                false,
                reply.encode_to_vec(),
            )
            .await;
        reboot
    }

    fn pin(&self, pin: u32) -> Result<(bool, v1::GpioMode), v1::Error> {
        usize::try_from(pin)
            .ok()
            .and_then(|pin| self.gpio.get(pin).copied())
            .ok_or_else(|| invalid(format!("pin {pin} does not exist (0 to {})", GPIO_PINS - 1)))
    }

    fn start_program(&mut self, program: Option<v1::Program>) -> Result<ReplyResult, v1::Error> {
        if self.program.is_some() {
            return Err(v1::Error {
                code: v1::error::Code::Busy.into(),
                message: "a program is running".to_string(),
            });
        }
        let program = program
            .filter(|program| !program.steps.is_empty())
            .ok_or_else(|| invalid("no steps".to_string()))?;
        self.program = Some(ProgramRun {
            id: program.program_id.clone(),
            steps: program.steps,
            index: 0,
            phase: Phase::Reaching,
            paused: false,
            announced: false,
        });
        Ok(self.program_state(&program.program_id, v1::program_state::State::Running))
    }

    fn program_control(
        &mut self,
        id: &str,
        pause: Option<bool>,
        abort: bool,
    ) -> Result<ReplyResult, v1::Error> {
        let Some(run) = self.program.as_mut().filter(|run| run.id == id) else {
            return Err(v1::Error {
                code: v1::error::Code::NotFound.into(),
                message: format!("program {id} is not running"),
            });
        };
        if abort {
            let index = run.index;
            self.program = None;
            self.setpoint = AMBIENT_C;
            return Ok(ReplyResult::Program(v1::ProgramState {
                program_id: id.to_string(),
                state: v1::program_state::State::Aborted.into(),
                step_index: u32::try_from(index).unwrap_or_default(),
            }));
        }
        run.paused = pause.unwrap_or(run.paused);
        if run.paused {
            self.setpoint = self.temperature;
        }
        let state = if run.paused {
            v1::program_state::State::Paused
        } else {
            v1::program_state::State::Running
        };
        Ok(self.program_state(id, state))
    }

    fn program_state(&self, id: &str, state: v1::program_state::State) -> ReplyResult {
        let index = self.program.as_ref().map_or(0, |run| run.index);
        ReplyResult::Program(v1::ProgramState {
            program_id: id.to_string(),
            state: state.into(),
            step_index: u32::try_from(index).unwrap_or_default(),
        })
    }
}

fn invalid(message: String) -> v1::Error {
    v1::Error {
        code: v1::error::Code::InvalidArgument.into(),
        message,
    }
}

/// Polls until the connection is closed (at most a second), so queued packets leave.
async fn drain(events: &mut EventLoop) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            match events.poll().await {
                Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::device::{ConnectionSettings, Topics};

    fn device(speed: f64) -> SimulatedDevice {
        let settings = ConnectionSettings {
            broker_host: "localhost".into(),
            tls_port: 8883,
            client_id: "sim".into(),
            topics: Topics::of("sim"),
        };
        let bundle = Bundle {
            ca_pem: String::new(),
            cert_pem: String::new(),
            key_pem: String::new(),
            settings,
        };
        SimulatedDevice::new(
            bundle,
            Tuning {
                interval: Duration::from_secs(1),
                speed,
            },
            None,
        )
    }

    #[test]
    fn the_heater_brings_the_mash_to_its_setpoint_and_holds_it() {
        let mut sim = device(1.0);
        sim.setpoint = 66.0;
        for _ in 0..600 {
            sim.advance(1.0);
        }
        assert!((sim.temperature - 66.0).abs() < 1.0, "{}", sim.temperature);
        assert!(
            sim.heater_pct > 0.0 && sim.heater_pct < 100.0,
            "holding needs some heat: {}",
            sim.heater_pct
        );
    }

    #[test]
    fn a_program_runs_its_steps_and_reports_progress() {
        let mut sim = device(1.0);
        let step = |kind: v1::step::Kind, target: f32, duration_s: u32| v1::Step {
            kind: kind.into(),
            name: String::new(),
            target_temp_c: target,
            duration_s,
            alerts: vec![v1::Alert {
                at_s: 5,
                message: "Add hops".into(),
            }],
        };
        let program = v1::Program {
            program_id: "p1".into(),
            steps: vec![
                step(v1::step::Kind::Mash, 30.0, 20),
                step(v1::step::Kind::Ferment, 20.0, 20),
            ],
        };
        assert!(sim.start_program(Some(program.clone())).is_ok());
        assert!(sim.start_program(Some(program)).is_err(), "busy");
        let mut kinds = Vec::new();
        for _ in 0..2000 {
            kinds.extend(sim.advance(1.0).into_iter().map(|event| event.kind()));
            if sim.program.is_none() {
                break;
            }
        }
        assert!(sim.program.is_none(), "the program completed");
        for kind in [
            EventKind::StepHolding,
            EventKind::Alert,
            EventKind::StepFinished,
            EventKind::StepStarted,
            EventKind::Completed,
        ] {
            assert!(kinds.contains(&kind), "{kind:?} in {kinds:?}");
        }
        assert!(
            sim.gravity < ORIGINAL_GRAVITY,
            "gravity falls while fermenting"
        );
    }
}
