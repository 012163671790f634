use apt_llm_provenance::{Patterns, SyntheticConfig};

#[test]
fn generator_is_seeded_and_realistic() {
    let cfg = SyntheticConfig {
        processes: 20_000,
        attack_rate: 0.002,
        seed: 3,
        ..Default::default()
    };
    let a = cfg.generate().unwrap();
    let b = cfg.generate().unwrap();
    assert_eq!(a.context, b.context);
    assert_eq!(a.labels, b.labels);
    assert_eq!(a.attacks(), 40);
    let p = Patterns::from_context(&a.context);
    assert!(p.len() < 2_000, "{} patterns", p.len());
    let c = SyntheticConfig { seed: 4, ..cfg }.generate().unwrap();
    assert_ne!(a.context.records, c.context.records);
}

#[test]
fn extreme_imbalance_keeps_one_attack() {
    let cfg = SyntheticConfig {
        processes: 1_000,
        attack_rate: 0.000_04,
        ..Default::default()
    };
    assert_eq!(cfg.generate().unwrap().attacks(), 1);
}

#[test]
fn invalid_parameters_are_errors() {
    assert!(
        SyntheticConfig {
            processes: 0,
            ..Default::default()
        }
        .generate()
        .is_err()
    );
    assert!(
        SyntheticConfig {
            attack_rate: 2.0,
            ..Default::default()
        }
        .generate()
        .is_err()
    );
}
