//! What an EKS control plane costs per hour, by support tier.
//!
//! Source: AWS Containers blog, "Amazon EKS extended support for Kubernetes versions pricing"
//! (https://aws.amazon.com/blogs/containers/amazon-eks-extended-support-for-kubernetes-versions-pricing/,
//! effective from the April 2024 billing cycle): "$0.60 per cluster per hour" in extended support,
//! "$0.10 per cluster per hour" in standard support; the same rates on the Amazon EKS pricing page
//! (https://aws.amazon.com/eks/pricing/). Rates are US East; AWS bills a month as 730 hours.

pub const SOURCE: &str = "AWS, Amazon EKS pricing (https://aws.amazon.com/eks/pricing/): $0.10 per cluster-hour in standard support, $0.60 in extended support, since April 2024";

/// US dollars per cluster-hour in standard support.
pub const STANDARD_PER_HOUR: f64 = 0.10;
/// US dollars per cluster-hour in extended support (the total, not the surcharge).
pub const EXTENDED_PER_HOUR: f64 = 0.60;
/// Hours in a month as AWS prices them.
pub const HOURS_PER_MONTH: f64 = 730.0;

pub fn standard_per_month() -> f64 {
    STANDARD_PER_HOUR * HOURS_PER_MONTH
}

pub fn extended_per_month() -> f64 {
    EXTENDED_PER_HOUR * HOURS_PER_MONTH
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_month_of_extended_support_costs_six_times_standard() {
        assert_eq!(format!("{:.2}", super::standard_per_month()), "73.00");
        assert_eq!(format!("{:.2}", super::extended_per_month()), "438.00");
    }
}
