import Foundation

extension ModelDefinition {
    /// Parses one model in the official SunSpec JSON format (`{"id":..,"group":{...}}`) and checks it.
    public convenience init(json data: Data) throws(DefinitionError) {
        let file: OfficialModelFile
        do {
            file = try JSONDecoder().decode(OfficialModelFile.self, from: data)
        } catch let error as DecodingError {
            throw DefinitionError(JSONErrorText.describe(error, in: data))
        } catch {
            throw DefinitionError("not a SunSpec model definition: \(error)")
        }
        guard (1...65534).contains(file.id) else {
            throw DefinitionError("model id \(file.id) is outside 1...65534")
        }
        let group = try file.group.definition(path: "group", modelID: file.id)
        try self.init(id: file.id, group: group)
    }
}

// MARK: - The official file format, as decoded

private struct OfficialModelFile: Decodable {
    let id: Int
    let group: OfficialGroup
}

private struct OfficialGroup: Decodable {
    let name: String
    let type: String?
    let label: String?
    let count: IntOrString?
    let points: [OfficialPoint]?
    let groups: [OfficialGroup]?

    func definition(path: String, modelID: Int) throws(DefinitionError) -> GroupDefinition {
        let here = "\(path)(\(name))"
        var count: GroupCount?
        switch self.count {
        case nil: count = nil
        case .int(let n) where n == 0: count = .fromLength
        case .int(let n) where n > 0: count = .fixed(n)
        case .int(let n): throw DefinitionError("model \(modelID): \(here): count \(n) is negative")
        case .string(let s): count = .point(s)
        }
        var points: [PointDefinition] = []
        for (i, p) in (self.points ?? []).enumerated() {
            points.append(try p.definition(path: "\(here).points[\(i)]", modelID: modelID))
        }
        var names = Set<String>()
        for p in points where !names.insert(p.name).inserted {
            throw DefinitionError("model \(modelID): \(here): point '\(p.name)' is defined twice")
        }
        var groups: [GroupDefinition] = []
        for (i, g) in (self.groups ?? []).enumerated() {
            groups.append(try g.definition(path: "\(here).groups[\(i)]", modelID: modelID))
        }
        return GroupDefinition(name: name, label: label, count: count, points: points, groups: groups)
    }
}

private struct OfficialPoint: Decodable {
    let name: String
    let type: String
    let size: Int?
    let sf: IntOrString?
    let units: String?
    let access: String?
    let mandatory: String?
    let `static`: String?
    let value: IntOrString?
    let symbols: [OfficialSymbol]?
    let label: String?

    func definition(path: String, modelID: Int) throws(DefinitionError) -> PointDefinition {
        let here = "\(path)(\(name))"
        guard let type = PointType(rawValue: type) else {
            throw DefinitionError("model \(modelID): \(here): unknown type '\(self.type)'")
        }
        let size: Int
        if let fixed = type.registerCount {
            if let given = self.size, given != fixed {
                throw DefinitionError("model \(modelID): \(here): size \(given) does not fit type \(type.rawValue) (\(fixed) registers)")
            }
            size = fixed
        } else {
            guard let given = self.size, (1...1000).contains(given) else {
                throw DefinitionError("model \(modelID): \(here): a string needs a size of 1...1000 registers")
            }
            size = given
        }
        var scaleFactor: ScaleFactor?
        switch sf {
        case nil: scaleFactor = nil
        case .int(let n):
            guard (-10...10).contains(n) else {
                throw DefinitionError("model \(modelID): \(here): constant scale factor \(n) is outside -10...10")
            }
            scaleFactor = .constant(n)
        case .string(let s): scaleFactor = .point(s, reference: nil)
        }
        let access: Access
        switch self.access {
        case nil, "R": access = .read
        case "RW", "W": access = .readWrite
        case let other?: throw DefinitionError("model \(modelID): \(here): access '\(other)' is not R or RW")
        }
        let value: DefinitionValue? = switch self.value {
        case nil: nil
        case .int(let n): .integer(Int64(n))
        case .string(let s): .text(s)
        }
        return PointDefinition(
            name: name, type: type, size: size, scaleFactor: scaleFactor, units: units, access: access,
            mandatory: mandatory == "M", isStatic: self.static == "S", value: value,
            symbols: (symbols ?? []).map { Symbol(name: $0.name, value: $0.value) }, label: label)
    }
}

private struct OfficialSymbol: Decodable {
    let name: String
    let value: Int64
}

private enum IntOrString: Decodable {
    case int(Int)
    case string(String)

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int.self) {
            self = .int(n)
        } else {
            self = .string(try c.decode(String.self))
        }
    }
}
