//! Reading Server-Sent Events the way a browser's EventSource does, keeping what arrives between reads.

use std::time::Duration;

use serde_json::Value;

/// An open SSE response.
pub struct SseStream {
    response: reqwest::Response,
    buffer: String,
}

impl SseStream {
    /// Wraps a response after checking it is an event stream.
    pub fn new(response: reqwest::Response) -> Self {
        assert_eq!(response.status(), 200, "the stream opens");
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The data of the next event called `name` (earlier events of other names are skipped); fails
    /// after 15 s.
    pub async fn next_event(&mut self, name: &str) -> Value {
        self.next_matching(name, |_| true).await
    }

    /// The data of the next event called `name` for which `check` holds; fails after 15 s.
    pub async fn next_matching(&mut self, name: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let event = block
                    .lines()
                    .find_map(|line| line.strip_prefix("event: "))
                    .unwrap_or_default();
                let data: String = block
                    .lines()
                    .filter_map(|line| line.strip_prefix("data: "))
                    .collect();
                if event == name {
                    let value: Value = serde_json::from_str(&data).unwrap();
                    if check(&value) {
                        return value;
                    }
                }
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let chunk = tokio::time::timeout(left, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("a matching {name} event in time"))
                .unwrap();
            self.buffer.push_str(&String::from_utf8_lossy(
                &chunk.expect("the stream stays open"),
            ));
        }
    }

    /// Whether the server ends the stream within `timeout`.
    pub async fn ends_within(&mut self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, async {
            while let Ok(Some(_)) = self.response.chunk().await {}
        })
        .await
        .is_ok()
    }
}
