import ArgumentParser
import SunSpec

/// `sunspec-gateway models [ID]`: lists the known models, or shows one model's points.
struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the SunSpec models known, or show the points of one."
    )

    @Argument(help: "A model id to show.")
    var id: Int?

    @Option(name: .customLong("models"), help: "Folder of SunSpec JSON model files that add to or override the built-in ones.")
    var modelsDirectory: String?

    func run() throws {
        let catalog = try loadCatalog(modelsDirectory)
        guard let id else {
            print(pad("ID", 6) + pad("NAME", 28) + pad("LEN", 6) + "LABEL")
            for id in catalog.ids {
                guard let model = catalog.definition(for: id) else { continue }
                print(pad("\(id)", 6) + pad(model.name, 28) + pad(lengthText(model), 6) + (model.label ?? ""))
            }
            print("\(catalog.ids.count) models (built-in: \(ModelCatalog.builtinSource))")
            return
        }
        guard let model = catalog.definition(for: id) else {
            printError("model \(id): no definition (try 'sunspec-gateway models' for the list)")
            throw ExitStatus.dataError
        }
        print("model \(model.id) \(model.name)\(model.label.map { ": \($0)" } ?? "") (L = \(lengthText(model)))")
        print(
            pad("OFFSET", 8) + pad("POINT", 30) + pad("TYPE", 11) + pad("SIZE", 5) + pad("UNITS", 9) + pad("SF", 18) + pad("ACCESS", 7)
                + "M/S")
        show(model.group, indent: "", start: 0)
    }

    private func show(_ group: GroupDefinition, indent: String, start: Int) {
        for (i, point) in group.points.enumerated() {
            let offset = start + group.pointOffsets[i]
            let sf: String =
                switch point.scaleFactor {
                case nil: ""
                case .constant(let n)?: "\(n)"
                case .point(let name, _)?: name
                }
            let flags = (point.mandatory ? "M" : "O") + (point.isStatic ? "S" : "")
            print(
                pad("\(indent)\(offset)", 8) + pad(indent + point.name, 30) + pad(point.type.rawValue, 11) + pad("\(point.size)", 5)
                    + pad(point.units ?? "", 9) + pad(sf, 18) + pad(point.access.rawValue, 7) + flags)
        }
        for sub in group.groups {
            let repeats: String =
                switch sub.count {
                case nil: ""
                case .fixed(let n)?: " x\(n)"
                case .point(let name)?: " x \(name)"
                case .fromLength?: " x (fills L)"
                }
            print("\(indent)  group \(sub.name)\(repeats)\(sub.label.map { ": \($0)" } ?? "") (offsets from the start of each repeat, +)")
            show(sub, indent: indent + "  +", start: 0)
        }
    }

    private func lengthText(_ model: ModelDefinition) -> String {
        let fixed = model.fixedLength - 2
        return model.group.groups.contains { $0.isRepeating } ? "\(fixed)+" : "\(fixed)"
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
