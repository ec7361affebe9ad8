/// `ondemand-trace --version`, and the `version` label of `ondemand_monitor_info`.
public enum ToolVersion {
    public static let current = "0.9.0"
}
