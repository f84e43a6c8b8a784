//! What the operator exports, as registered: each metric family's name, type, unit and label
//! names, known before any series exists. The metric hygiene test and the chart's rule tests
//! read it, so a metric added later is checked without anyone listing it by hand.

/// One registered metric family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricInfo {
    /// The family name, as in the exposition's `# TYPE` line: with the unit suffix, without the
    /// `_total` that counter samples carry.
    pub family: String,
    /// Help text.
    pub help: &'static str,
    /// OpenMetrics unit (`seconds`), when declared.
    pub unit: Option<String>,
    /// `counter`, `gauge`, `histogram` or `info`.
    pub metric_type: String,
    /// Label names of its series, histograms' `le` aside.
    pub labels: &'static [&'static str],
}

impl MetricInfo {
    pub(crate) fn new(
        name: &str,
        help: &'static str,
        unit: Option<&str>,
        metric_type: &str,
        labels: &'static [&'static str],
    ) -> Self {
        let family = match unit {
            Some(unit) => format!("{name}_{unit}"),
            None => name.to_owned(),
        };
        MetricInfo {
            family,
            help,
            unit: unit.map(str::to_owned),
            metric_type: metric_type.to_owned(),
            labels,
        }
    }

    /// The name PromQL queries use: `_total` appended for counters.
    pub fn name(&self) -> String {
        match self.metric_type.as_str() {
            "counter" => format!("{}_total", self.family),
            _ => self.family.clone(),
        }
    }

    /// The names of its samples: the name, or a histogram's `_bucket`, `_sum` and `_count`.
    pub fn sample_names(&self) -> Vec<String> {
        match self.metric_type.as_str() {
            "histogram" => ["_bucket", "_sum", "_count"]
                .iter()
                .map(|suffix| format!("{}{suffix}", self.family))
                .collect(),
            _ => vec![self.name()],
        }
    }
}
