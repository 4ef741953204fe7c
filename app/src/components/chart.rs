//! A small SVG line chart: a few lines over time, value ticks, hover read-out. The geometry is plain
//! functions, tested below; the component only draws.

use leptos::prelude::*;

/// One line: a name, a colour, and its points (time in Unix ms, value).
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub name: &'static str,
    pub color: &'static str,
    pub points: Vec<(i64, f64)>,
}

/// Drawing area in SVG units.
pub const WIDTH: f64 = 600.0;
pub const HEIGHT: f64 = 200.0;
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 20.0;
const TOP: f64 = 8.0;

/// Maps times and values to the drawing area.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub t0: i64,
    pub t1: i64,
    pub v0: f64,
    pub v1: f64,
}

impl Scale {
    /// A scale spanning the window (or the points' times) and the values, widened to nice ticks.
    pub fn fit(lines: &[Line], window: Option<(i64, i64)>) -> Option<Self> {
        let points = lines.iter().flat_map(|line| line.points.iter());
        let (mut t0, mut t1, mut v0, mut v1) = (i64::MAX, i64::MIN, f64::MAX, f64::MIN);
        for (t, v) in points {
            t0 = t0.min(*t);
            t1 = t1.max(*t);
            v0 = v0.min(*v);
            v1 = v1.max(*v);
        }
        if t0 > t1 {
            return None;
        }
        if let Some((start, end)) = window {
            (t0, t1) = (start, end);
        }
        if t1 <= t0 {
            t1 = t0 + 1000;
        }
        if v1 - v0 < 1e-9 {
            (v0, v1) = (v0 - 1.0, v1 + 1.0);
        }
        let ticks = ticks(v0, v1, 4);
        Some(Self {
            t0,
            t1,
            v0: v0.min(ticks[0]),
            v1: v1.max(*ticks.last().unwrap_or(&v1)),
        })
    }

    pub fn x(&self, t: i64) -> f64 {
        LEFT + (t - self.t0) as f64 / (self.t1 - self.t0) as f64 * (WIDTH - LEFT)
    }

    pub fn y(&self, v: f64) -> f64 {
        TOP + (self.v1 - v) / (self.v1 - self.v0) * (HEIGHT - TOP - BOTTOM)
    }

    /// The time at a horizontal position.
    pub fn time_at(&self, x: f64) -> i64 {
        self.t0
            + (((x - LEFT) / (WIDTH - LEFT)).clamp(0.0, 1.0) * (self.t1 - self.t0) as f64) as i64
    }
}

/// About `count` round tick values covering `[low, high]` (steps of 1, 2, 2.5 or 5 times a power of ten).
pub fn ticks(low: f64, high: f64, count: usize) -> Vec<f64> {
    let raw = (high - low) / count.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= raw * 0.999)
        .unwrap_or(raw);
    let first = (low / step).floor() * step;
    let mut values = Vec::new();
    let mut value = first;
    // Up to the first tick at or above `high`.
    while values.len() < 50 {
        values.push((value / step).round() * step);
        if value >= high - step * 1e-9 {
            break;
        }
        value += step;
    }
    values
}

/// The SVG path of a line; a gap of more than `max_gap_ms` starts a new segment.
pub fn path(points: &[(i64, f64)], scale: &Scale, max_gap_ms: i64) -> String {
    let mut d = String::new();
    let mut previous: Option<i64> = None;
    for (t, v) in points {
        let command = if previous.is_some_and(|p| t - p <= max_gap_ms) {
            'L'
        } else {
            'M'
        };
        d.push_str(&format!("{command}{:.1} {:.1} ", scale.x(*t), scale.y(*v)));
        previous = Some(*t);
    }
    d.trim_end().to_string()
}

/// The point nearest in time to `t`.
pub fn nearest(points: &[(i64, f64)], t: i64) -> Option<(i64, f64)> {
    points
        .iter()
        .copied()
        .min_by_key(|(time, _)| (time - t).abs())
}

/// Drops the oldest points beyond `max`, so a chart left open for hours stays small.
pub fn keep_last<T>(points: &mut Vec<T>, max: usize) {
    if points.len() > max {
        points.drain(..points.len() - max);
    }
}

fn clock(t: i64) -> String {
    chrono::DateTime::from_timestamp_millis(t)
        .map(|t| t.format("%H:%M:%S").to_string())
        .unwrap_or_default()
}

/// A chart of a few lines; hovering shows the nearest values.
#[component]
pub fn LineChart(
    /// Accessible name, also the heading.
    title: &'static str,
    unit: &'static str,
    #[prop(into)] lines: Signal<Vec<Line>>,
    /// The time span to show (Unix ms); `None`: the points' own span.
    #[prop(into)]
    window: Signal<Option<(i64, i64)>>,
    /// Longest gap drawn as a line, ms.
    #[prop(default = 60_000)]
    max_gap_ms: i64,
) -> impl IntoView {
    let (hover, set_hover) = signal(None::<f64>);
    let scale = move || lines.with(|lines| Scale::fit(lines, window.get()));
    let on_move = move |event: leptos::ev::MouseEvent| {
        use wasm_bindgen::JsCast;
        let Some(target) = event
            .current_target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
        else {
            return;
        };
        let width = target.get_bounding_client_rect().width();
        if width > 0.0 {
            set_hover.set(Some(f64::from(event.offset_x()) / width * WIDTH));
        }
    };
    view! {
        <figure class="rounded-xl border border-stone-200 bg-white p-4 shadow-sm dark:border-stone-800 dark:bg-stone-900">
            <figcaption class="flex flex-wrap items-baseline justify-between gap-2">
                <span class="font-semibold">{title}</span>
                <span class="flex flex-wrap gap-3 text-xs">
                    {move || lines.get().into_iter().map(|line| view! {
                        <span class="flex items-center gap-1">
                            <span class="inline-block h-2 w-4 rounded" style=format!("background:{}", line.color)></span>
                            {line.name}
                        </span>
                    }).collect_view()}
                </span>
            </figcaption>
            {move || match scale() {
                None => view! { <p class="py-12 text-center text-sm text-stone-500">"No data in this range yet."</p> }.into_any(),
                Some(scale) => {
                    let lines = lines.get();
                    let value_ticks = ticks(scale.v0, scale.v1, 4);
                    let readout = hover.get().map(|x| {
                        let t = scale.time_at(x);
                        let values: Vec<String> = lines
                            .iter()
                            .filter_map(|line| nearest(&line.points, t).map(|(_, v)| format!("{} {v:.2} {unit}", line.name)))
                            .collect();
                        (scale.x(t), format!("{} · {}", clock(t), values.join(" · ")))
                    });
                    view! {
                        <svg
                            role="img"
                            aria-label=format!("{title} chart")
                            viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                            class="mt-2 h-48 w-full touch-none select-none"
                            on:mousemove=on_move
                            on:mouseleave=move |_| set_hover.set(None)
                        >
                            {value_ticks.into_iter().filter(|v| *v >= scale.v0 && *v <= scale.v1).map(|v| view! {
                                <line x1=LEFT y1=scale.y(v) x2=WIDTH y2=scale.y(v) class="stroke-stone-200 dark:stroke-stone-700" stroke-width="1" />
                                <text x=LEFT - 4.0 y=scale.y(v) + 3.0 text-anchor="end" class="fill-stone-500 text-[10px]">{format!("{v}")}</text>
                            }).collect_view()}
                            <text x=LEFT y=HEIGHT - 4.0 class="fill-stone-500 text-[10px]">{clock(scale.t0)}</text>
                            <text x=WIDTH y=HEIGHT - 4.0 text-anchor="end" class="fill-stone-500 text-[10px]">{clock(scale.t1)}</text>
                            {lines.iter().map(|line| view! {
                                <path d=path(&line.points, &scale, max_gap_ms) fill="none" stroke=line.color stroke-width="2" stroke-linejoin="round" />
                            }).collect_view()}
                            {readout.clone().map(|(x, _)| view! {
                                <line x1=x y1=TOP x2=x y2=HEIGHT - BOTTOM class="stroke-stone-400" stroke-dasharray="3 3" />
                            })}
                        </svg>
                        <p class="min-h-5 text-xs text-stone-600 dark:text-stone-400" aria-live="polite">
                            {readout.map(|(_, text)| text)}
                        </p>
                    }
                    .into_any()
                }
            }}
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(points: Vec<(i64, f64)>) -> Line {
        Line {
            name: "t",
            color: "red",
            points,
        }
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 100.0, 4), vec![0.0, 25.0, 50.0, 75.0, 100.0]);
        let t = ticks(18.3, 66.9, 4);
        assert!(t[0] <= 18.3 && *t.last().unwrap() >= 66.9, "{t:?}");
        assert!(
            t.windows(2)
                .all(|pair| ((pair[1] - pair[0]) - 20.0).abs() < 1e-9),
            "{t:?}"
        );
        let small = ticks(1.010, 1.050, 4);
        assert!(
            small
                .windows(2)
                .all(|pair| ((pair[1] - pair[0]) - 0.01).abs() < 1e-9),
            "{small:?}"
        );
    }

    #[test]
    fn scale_maps_the_window_onto_the_drawing_area() {
        let scale = Scale::fit(&[line(vec![(1000, 20.0), (2000, 60.0)])], None).unwrap();
        assert_eq!(scale.x(1000), LEFT);
        assert_eq!(scale.x(2000), WIDTH);
        assert!(
            scale.y(scale.v1) < scale.y(scale.v0),
            "higher values are drawn higher"
        );
        assert_eq!(scale.time_at(WIDTH), 2000);
        assert_eq!(scale.time_at(0.0), 1000, "clamped");
        let flat = Scale::fit(&[line(vec![(0, 5.0)])], Some((0, 10_000))).unwrap();
        assert!(flat.v0 < 5.0 && flat.v1 > 5.0 && flat.t1 == 10_000);
        assert_eq!(Scale::fit(&[line(vec![])], None), None);
    }

    #[test]
    fn paths_break_at_gaps_and_nearest_finds_the_closest_point() {
        let points = vec![(0, 1.0), (1000, 2.0), (100_000, 3.0)];
        let scale = Scale::fit(&[line(points.clone())], None).unwrap();
        let d = path(&points, &scale, 5000);
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert_eq!(d.matches('L').count(), 1, "{d}");
        assert_eq!(nearest(&points, 900), Some((1000, 2.0)));
        let mut many: Vec<u32> = (0..10).collect();
        keep_last(&mut many, 3);
        assert_eq!(many, vec![7, 8, 9]);
    }
}
