import SunSpec
import YAMLFiles
import Yams

extension ConfigReader {
    /// A device's `quirks:`, each checked against what it names: the models and points must exist in
    /// the built-in catalog, blocks must end by register 65535, and quirks that do nothing yet are refused.
    func quirks(_ node: Node, _ path: String) throws(ConfigError) -> Quirks {
        let q = try mapping(
            node, path,
            allowed: [
                "base", "unit_offset", "signed_accumulators", "power_factor_percent", "scale_factors", "read_only", "blocks",
                "no_end_marker",
            ])
        var quirks = Quirks()
        func flag(_ key: String) throws(ConfigError) -> Bool {
            guard let n = q[key] else { return false }
            return try bool(n, "\(path).\(key)")
        }
        if let base = q["base"] { quirks.base = try integer(base, "\(path).base", 0...65533) }
        if let offset = q["unit_offset"] { quirks.unitOffset = try integer(offset, "\(path).unit_offset", -247...247) }
        quirks.signedAccumulators = try flag("signed_accumulators")
        quirks.powerFactorPercent = try flag("power_factor_percent")
        if let marker = q["no_end_marker"] {
            throw fail(
                marker, "\(path).no_end_marker",
                "not implemented yet (discovery already walks a chain that has no end marker); remove it")
        }
        if let sfs = q["scale_factors"] {
            let m = try mapping(sfs, "\(path).scale_factors", allowed: nil)
            for (key, _, value) in m {
                let here = "\(path).scale_factors.\(key)"
                let point = try self.point(key, value, here, expected: "MODEL.SF_POINT (103.W_SF)")
                guard point.type == .sunssf else {
                    throw fail(value, here, "\(point.name) is a \(point.type.rawValue) point, not a scale factor (sunssf)")
                }
                quirks.scaleFactors[key] = try integer(value, here, -10...10)
            }
        }
        if let list = q["read_only"] {
            guard let items = list.sequence else { throw fail(list, "\(path).read_only", "expected a list of MODEL.POINT") }
            for (i, item) in items.enumerated() {
                let here = "\(path).read_only[\(i)]"
                _ = try point(try string(item, here), item, here, expected: "MODEL.POINT (802.SetOp)")
            }
            throw fail(list, "\(path).read_only", "not implemented yet (the gateway writes nothing to devices); remove it")
        }
        if let list = q["blocks"] {
            guard let items = list.sequence else { throw fail(list, "\(path).blocks", "expected a list of [start, count]") }
            for (i, item) in items.enumerated() {
                guard let pair = item.sequence, pair.count == 2 else { throw fail(item, "\(path).blocks[\(i)]", "expected [start, count]") }
                let start = try integer(pair[0], "\(path).blocks[\(i)][0]", 0...65535)
                let count = try integer(pair[1], "\(path).blocks[\(i)][1]", 1...125)
                guard start + count <= 65536 else {
                    throw fail(
                        item, "\(path).blocks[\(i)]", "[\(start), \(count)] runs past register 65535 (to \(start + count - 1))")
                }
                quirks.blocks.append(start..<(start + count))
            }
        }
        return quirks
    }

    /// The point `MODEL.POINT` names in the built-in catalog, at any level of the model's groups.
    private func point(_ key: String, _ node: Node, _ path: String, expected: String) throws(ConfigError) -> PointDefinition {
        let parts = key.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let id = Int(parts[0]), !parts[1].isEmpty else { throw fail(node, path, "expected \(expected)") }
        guard let model = ModelCatalog.builtin.definition(for: id) else { throw fail(node, path, "model \(id) is not a known model") }
        guard let point = Self.point(named: String(parts[1]), in: model.group) else {
            throw fail(node, path, "model \(id) (\(model.name)) has no point \(parts[1])")
        }
        return point
    }

    private static func point(named name: String, in group: GroupDefinition) -> PointDefinition? {
        if let i = group.pointIndex(named: name) { return group.points[i] }
        for sub in group.groups {
            if let found = point(named: name, in: sub) { return found }
        }
        return nil
    }
}
